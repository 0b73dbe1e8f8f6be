"""The platform side of docs/step-protocol.md: how events fold into an outcome."""

from typing import Any

import pytest

from steps.errors import PayloadTooLarge, ProtocolViolation
from steps.protocol import Message, RequestOutcome, StepRequest, decode_event


def test_garbage_lines_are_protocol_violations_with_an_excerpt():
    with pytest.raises(ProtocolViolation) as failure:
        decode_event(b"Traceback (most recent call last):\n")
    assert "Traceback" in failure.value.detail
    with pytest.raises(ProtocolViolation):
        decode_event(b'["a list"]\n')


def test_events_fold_into_one_outcome():
    outcome = RequestOutcome(id="r")
    events: list[dict[str, Any]] = [
        {"type": "data", "msg": {"body": 1}},
        {"type": "data", "msg": {"body": 2, "headers": {"h": "v"}}},
        {"type": "snapshot", "snapshot": {"a": 1}},
        {"type": "updateSnapshot", "snapshot": {"b": 2}},
        {"type": "updateKeys", "keys": {"token": "t"}},
        {"type": "httpReply", "reply": {"statusCode": 204}},
        {"type": "end"},
    ]
    for event in events:
        outcome.apply(event)
    assert [m.body for m in outcome.data] == [1, 2]
    assert outcome.merged_snapshot({"old": True}) == {"a": 1, "b": 2}
    assert outcome.keys == {"token": "t"} and outcome.ended
    assert outcome.http_reply is not None and outcome.http_reply.statusCode == 204


def test_update_snapshot_alone_merges_into_the_previous_state():
    outcome = RequestOutcome(id="r")
    outcome.apply({"type": "updateSnapshot", "snapshot": {"b": 2}})
    assert outcome.merged_snapshot({"a": 1}) == {"a": 1, "b": 2}


def test_malformed_and_unknown_events_are_violations():
    with pytest.raises(ProtocolViolation, match="malformed 'data'"):
        RequestOutcome(id="r").apply({"type": "data"})
    with pytest.raises(ProtocolViolation, match="unknown event type"):
        RequestOutcome(id="r").apply({"type": "teleport"})


def test_requests_above_the_line_limit_are_refused():
    request = StepRequest(id="r", function="f", msg=Message(body="x" * 100))
    assert request.encode().endswith(b"\n")
    with pytest.raises(PayloadTooLarge):
        request.encode(max_line_bytes=50)
