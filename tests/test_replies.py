"""Request-reply's pure parts: what a caller asked for, when a message's answer is ready, and the
HTTP answer it becomes."""

import json

import pytest
from fastapi import Response

from api.errors import ApiError
from api.replies import EXECUTION_HEADER, reply_response, requested_reply
from api.settings import ApiSettings
from flows.model import Flow
from steps.protocol import HttpReply, Message
from workflows.models import FlowRunResult, RunTotals, StepRecord
from workflows.realtime_flow import _batch_failed
from workflows.realtime_models import Queued
from workflows.replies import FlowReply, ReplyProgress, ReplyRequest, run_reply

HOOK = {"id": "hook", "component": "webhook", "function": "receive"}


def make_flow(**extra: object) -> Flow:
    return Flow.model_validate({"id": "f", "name": "F", "trigger": HOOK, **extra})


def test_no_reply_unless_asked_or_configured() -> None:
    assert requested_reply(make_flow(), {}) is None
    assert requested_reply(make_flow(), {"timeout": "5"}) is None  # the flow's own query parameter
    assert requested_reply(make_flow(), {"reply": "last"}) == ReplyRequest(mode="last", timeout_seconds=30)
    configured = make_flow(reply={"mode": "last", "timeout": 12})
    assert requested_reply(configured, {}) == ReplyRequest(mode="last", timeout_seconds=12)
    assert requested_reply(configured, {"reply": "first", "timeout": "2.5"}) == ReplyRequest(mode="first",
                                                                                           timeout_seconds=2.5)


@pytest.mark.parametrize("query", [{"reply": "yes"}, {"reply": "last", "timeout": "-1"},
                                   {"reply": "last", "timeout": "nan"}, {"reply": "last", "timeout": "999"}])
def test_unusable_reply_parameters_are_400(query: dict[str, str]) -> None:
    with pytest.raises(ApiError) as raised:
        requested_reply(make_flow(), query)
    assert raised.value.status == 400


def test_progress_is_ready_when_every_part_ended_or_a_reply_came() -> None:
    progress = ReplyProgress()
    assert not progress.ready("first") and not progress.ready("last")
    progress.open_parts += 3 - 1  # the message fanned out into three parts
    progress.open_parts -= 2  # two ended
    progress.add_http_reply(HttpReply(statusCode=202, body="ok"))
    progress.add_http_reply(HttpReply(statusCode=500))  # the first reply stays
    assert progress.ready("first") and not progress.ready("last")
    assert progress.reply("first") == FlowReply(status="replied", http_reply=HttpReply(statusCode=202, body="ok"))
    progress.add_output({"n": 1})
    progress.open_parts -= 1
    assert progress.reply("last") == FlowReply(status="completed", outputs=[{"n": 1}])
    progress.add_error("step 'x': broke")
    assert progress.reply("last") == FlowReply(status="failed", error="step 'x': broke")


def test_a_runs_reply_from_its_report() -> None:
    report = FlowRunResult(flow_id="f", flow_version=1, execution_id="f:m")
    assert run_reply(report, "first", finished=False) is None
    assert run_reply(report, "last", finished=True) == FlowReply(status="completed")
    report.failures = [StepRecord(step_id="b", component="c", message_id="m", status="failed", error="no")]
    report.totals = RunTotals(failed=1)
    failed = run_reply(report, "last", finished=True)
    assert failed is not None and failed.status == "failed" and "step 'b': no" in (failed.error or "")
    report.http_reply = HttpReply(statusCode=201)
    assert run_reply(report, "first", finished=False) == FlowReply(status="replied", http_reply=report.http_reply)


def test_http_answers() -> None:
    settings = ApiSettings()
    wait = ReplyRequest(timeout_seconds=3)

    def answer(reply: FlowReply) -> Response:
        return reply_response(reply, "f:m", "f:m", settings, wait)

    text = answer(FlowReply(status="replied", http_reply=HttpReply(statusCode=201, body="made",
                                                                   headers={"Content-Length": "99", "X-A": "1"})))
    assert (text.status_code, text.body, text.headers["content-type"]) == (201, b"made", "text/plain; charset=utf-8")
    assert text.headers["content-length"] == "4" and text.headers["x-a"] == "1"
    assert text.headers[EXECUTION_HEADER] == "f:m"
    assert json.loads(bytes(answer(FlowReply(status="completed", outputs=[{"a": 1}])).body)) == {"a": 1}
    assert json.loads(bytes(answer(FlowReply(status="completed", outputs=[1, 2])).body)) == [1, 2]
    assert answer(FlowReply(status="completed")).status_code == 204
    assert answer(FlowReply(status="failed", error="boom")).status_code == 500
    late = answer(FlowReply(status="timeout"))
    assert late.status_code == 504 and json.loads(bytes(late.body))["executionId"] == "f:m"
    assert answer(FlowReply(status="duplicate")).status_code == 409
    assert answer(FlowReply(status="replied", http_reply=HttpReply(statusCode=99))).status_code == 502


def test_a_batch_that_could_not_run_answers_its_waiting_callers() -> None:
    flow = make_flow(steps=[{"id": "a", "component": "transform", "function": "transform"}])
    items = [Queued(message=Message(id="m1", body={}), reply_to="m1"),
             Queued(message=Message(id="m1-0", body={}), start_at=1, reply_to="m1"),
             Queued(message=Message(id="m2", body={}))]
    result = _batch_failed(flow, items, "the batch could not run: gone")
    assert [(f.message_id, f.step_id) for f in result.failures] == [("m1", "hook"), ("m1-0", "a"), ("m2", "hook")]
    [delta] = result.replies
    progress = ReplyProgress(open_parts=2)  # the message and a fan-out part of it, both in that batch
    progress.merge(delta)
    assert progress.ready("last") and progress.reply("last") == FlowReply(status="failed",
                                                                           error="the batch could not run: gone")
