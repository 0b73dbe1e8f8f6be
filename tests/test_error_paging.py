"""The pure parts of errors and retries: error ids, page cursors, merging two sources into pages,
which entering message a failed part came from, what a failure keeps, which retries merge."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from api.error_ids import BadErrorId, RealtimeFailure, RunFailure, decode_error_id, encode_error_id
from api.error_pages import BadPageToken, Cursor, Dated, decode_cursor, encode_cursor, take_page
from api.error_retry import RetryPlan, merge_same_runs, step_index
from api.error_sources import FoundError
from api.errors import ApiError
from flows.message_ids import entry_of
from flows.model import Flow
from steps.protocol import Message
from workflows.retry_input import KEPT_MESSAGE_CHARS, kept

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("ref", [RunFailure("orders:m/1", "01a2-run", 3),
                                 RealtimeFailure("m:1~x", "step-a", T0.isoformat())])
def test_error_ids_round_trip_and_are_url_safe(ref: RunFailure | RealtimeFailure) -> None:
    error_id = encode_error_id(ref)
    assert decode_error_id(error_id) == ref
    assert all(c.isalnum() or c in "-_" for c in error_id), error_id


@pytest.mark.parametrize("text", ["nonsense!", "", encode_error_id(RunFailure("w", "r", 0))[:-3],
                                  "WyJydW4iLCJ3IiwiciIsLTFd"])  # ["run","w","r",-1]
def test_other_strings_are_not_error_ids(text: str) -> None:
    with pytest.raises(BadErrorId):
        decode_error_id(text)


def test_cursor_round_trip_and_foreign_tokens() -> None:
    cursor = Cursor(before=T0, skip=2)
    assert decode_cursor(encode_cursor(cursor)) == cursor
    for token in ("zzz", encode_cursor(Cursor(before=T0.replace(tzinfo=None)))):
        with pytest.raises(BadPageToken):
            decode_cursor(token)


def dated(seconds: int, name: str, index: int = 0) -> Dated[str]:
    return Dated(at=T0 + timedelta(seconds=seconds), order=(name, "", index), item=f"{name}{index}")


def walk(found: list[Dated[str]], limit: int) -> list[str]:
    """Every page, as a caller would ask for them, each from what is at or before its cursor."""
    items: list[str] = []
    cursor: Cursor | None = None
    while True:
        page, cursor = take_page(found, cursor, limit)
        items += page
        if cursor is None:
            return items


def test_pages_merge_sources_newest_first_and_split_errors_of_one_time() -> None:
    run = [dated(10, "run", index) for index in range(3)]  # one run, three failed parts, one close time
    realtime = [dated(20, "rt"), dated(5, "rt-old")]
    found = run + realtime
    expected = ["rt0", "run0", "run1", "run2", "rt-old0"]
    for limit in (1, 2, 3, 5, 10):
        assert walk(found, limit) == expected, limit


def test_a_page_cursor_is_not_shifted_by_newer_errors() -> None:
    found = [dated(seconds, f"e{seconds}-") for seconds in (1, 2, 3)]
    page, cursor = take_page(found, None, 2)
    assert page == ["e3-0", "e2-0"] and cursor == Cursor(before=T0 + timedelta(seconds=2), skip=1)
    rest, end = take_page(found + [dated(9, "new")], cursor, 2)
    assert rest == ["e1-0"] and end is None


def test_entry_of_finds_the_message_a_part_came_from() -> None:
    entries = ["p-1", "p-10", "p-2"]
    assert entry_of("p-1", entries) == "p-1"
    assert entry_of("p-10-3", entries) == "p-10"
    assert entry_of("p-1-0-2", entries) == "p-1"
    assert entry_of("p-3", entries) is None
    assert entry_of("a-1", ["a", "a-1"]) == "a-1", "the longest: the message itself before its ancestor"


def test_a_failure_keeps_small_messages_only() -> None:
    small = Message(id="m", body={"n": 1}, idempotencyKey="f/m/s")
    assert kept(small) == small.model_copy(update={"idempotencyKey": None})
    assert kept(Message(id="m", body="x" * KEPT_MESSAGE_CHARS)) is None


def found(workflow_id: str, index: int) -> FoundError:
    return FoundError(error_id=f"{workflow_id}#{index}", step_id="s", message_id=f"m-{index}", error="e",
                      arrived=None, failed_workflow_id=workflow_id, failed_run_id="r",
                      ref=RunFailure(workflow_id, "r", index))


def plan(error: FoundError, *, from_step: bool = False, edited: bool = False) -> RetryPlan:
    return RetryPlan(errors=(error,), message=Message(id="m"), start_at=0, from_step=from_step, edited=edited,
                     how="test")


def test_plain_retries_of_one_real_time_message_share_one_execution() -> None:
    parts = [dataclasses.replace(found(f"f:m-{n}", 0), failed_run_id=None) for n in range(2)]
    assert len(merge_same_runs([plan(part) for part in parts])) == 1


def test_plain_retries_of_one_run_share_one_execution() -> None:
    a0, a1, b0 = found("f:a", 0), found("f:a", 1), found("f:b", 0)
    merged = merge_same_runs([plan(a0), plan(b0), plan(a1), plan(a1, from_step=True), plan(a0, edited=True)])
    assert [[e.error_id for e in p.errors] for p in merged] == [["f:a#0", "f:a#1"], ["f:b#0"], ["f:a#1"], ["f:a#0"]]


def test_step_index_by_id_or_409_listing_the_steps() -> None:
    flow = Flow.model_validate({
        "id": "f", "name": "F", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [{"id": "a", "component": "code", "function": "run"},
                  {"id": "b", "component": "code", "function": "run"}]})
    assert (step_index(flow, None), step_index(flow, "a"), step_index(flow, "b")) == (0, 1, 2)
    with pytest.raises(ApiError) as refused:
        step_index(flow, "gone")
    assert step_index(flow, "hook") == 0, "a trigger in its own container can fail too"
    assert refused.value.status == 409 and "its steps are 'hook', 'a', 'b'" in refused.value.error
