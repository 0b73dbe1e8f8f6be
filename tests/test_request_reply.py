"""Request-reply webhooks and executions against a real Temporal dev server and a real worker:
ordinary flows (update-with-start on the message's FlowRun) and real-time flows (an update on the
flow's long-lived workflow). Steps run through the process runner, so no Docker is needed."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.settings import ApiSettings
from catalog.components import load_catalog
from tests.api_harness import api_settings, api_with_worker
from tests.conftest import PROBE_DIR
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

HOOK = {"id": "hook", "component": "webhook", "function": "receive"}
REPLY_STEP = {"id": "answer", "component": "probe", "function": "reply"}  # an httpReply, no data
SHAPE_STEP = {"id": "shape", "component": "transform", "function": "transform",
              "config": {"expression": '{"total": body.a + body.b}'}}


def flow(flow_id: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "trigger": HOOK, "steps": steps, **extra}


def slow_step(seconds: float) -> dict[str, Any]:
    return {"id": "slow", "component": "code", "function": "run",
            "config": {"code": f"import time\ntime.sleep({seconds})\nreturn {{'slept': {seconds}}}"}}


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("reply"), "reply", component_dirs=[PROBE_DIR])


@pytest.fixture(scope="module")
async def api(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(settings, load_catalog([PROBE_DIR]), timeout=60) as http:
        yield http


async def define(http: httpx.AsyncClient, definition: dict[str, Any]) -> None:
    answer = await http.put(f"/flows/{definition['id']}", json=definition)
    assert answer.status_code in (200, 201), answer.text


async def test_first_reply_is_the_steps_http_reply(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-first", [SHAPE_STEP, REPLY_STEP]))
    answer = await api.post("/hooks/rr-first?reply=first", json={"a": 1, "b": 2})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"created": {"total": 3}}
    assert answer.headers["x-probe"] == "yes"
    execution = answer.headers["x-conflux-execution-id"]
    assert execution.startswith("rr-first:")
    status = await finished(api, execution)
    assert status["status"] == "COMPLETED" and status["result"]["totals"]["stepRuns"] == 3
    # 'last' waits for the end: the reply step emits no data, so the message was filtered out
    answer = await api.post("/hooks/rr-first?reply=last", json={"a": 1, "b": 2})
    assert answer.status_code == 204, answer.text


async def test_last_reply_is_the_last_steps_output(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-last", [SHAPE_STEP]))
    answer = await api.post("/flows/rr-last/executions?reply=last", json={"a": 2, "b": 5})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"total": 7}
    # a flow without any httpReply answers with its output in 'first' mode too
    await define(api, flow("rr-plain", [SHAPE_STEP]))
    answer = await api.post("/hooks/rr-plain?reply=first", json={"a": 1, "b": 1})
    assert answer.status_code == 200 and answer.json() == {"total": 2}


async def test_the_flows_reply_setting_needs_no_query(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-setting", [SHAPE_STEP], reply={"mode": "last", "timeout": 20}))
    answer = await api.post("/hooks/rr-setting", json={"a": 10, "b": 1})
    assert answer.status_code == 200 and answer.json() == {"total": 11}


async def test_a_failed_run_answers_500_with_the_execution(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-fails", [{"id": "boom", "component": "transform", "function": "transform",
                                         "config": {"expression": '$error("no good")'}}]))
    answer = await api.post("/hooks/rr-fails?reply=last", json={})
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert "step 'boom'" in body["error"] and "no good" in body["error"]
    assert body["executionId"].startswith("rr-fails:") and body["links"]["status"].startswith("/executions/")


async def test_a_filtered_message_answers_204(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-filter", [{"id": "drop", "component": "code", "function": "run",
                                          "config": {"code": "return None"}}]))
    answer = await api.post("/hooks/rr-filter?reply=last", json={})
    assert answer.status_code == 204, answer.text
    assert answer.headers["x-conflux-execution-id"].startswith("rr-filter:")


async def test_no_answer_in_time_is_504_and_the_run_goes_on(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-slow", [slow_step(3)]))
    key = {"Idempotency-Key": f"slow-{uuid.uuid4().hex[:8]}"}
    answer = await api.post("/hooks/rr-slow?reply=last&timeout=0.5", json={}, headers=key)
    assert answer.status_code == 504, answer.text
    execution = answer.json()["executionId"]
    assert "no answer within 0.5 s" in answer.json()["error"]
    status = await finished(api, execution)
    assert status["status"] == "COMPLETED"
    # the same message id again: nothing runs twice, and the closed run's answer comes back at once
    again = await api.post("/hooks/rr-slow?reply=last", json={}, headers=key)
    assert again.status_code == 200 and again.json() == {"slept": 3}
    assert again.headers["x-conflux-execution-id"] == execution


async def test_a_repeat_while_running_joins_the_run(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-join", [slow_step(1)]))
    key = {"Idempotency-Key": f"join-{uuid.uuid4().hex[:8]}"}
    first, second = await asyncio.gather(api.post("/hooks/rr-join?reply=last", json={}, headers=key),
                                         api.post("/hooks/rr-join?reply=last", json={}, headers=key))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"slept": 1}
    runs = {first.headers["x-conflux-execution-id"], second.headers["x-conflux-execution-id"]}
    assert len(runs) == 1


async def test_bad_reply_parameters_are_400(api: httpx.AsyncClient) -> None:
    await define(api, flow("rr-bad", [SHAPE_STEP]))
    answer = await api.post("/hooks/rr-bad?reply=soon", json={})
    assert answer.status_code == 400 and "'first'" in answer.json()["error"]
    for timeout in ("0", "abc", "301"):
        answer = await api.post(f"/hooks/rr-bad?reply=last&timeout={timeout}", json={})
        assert answer.status_code == 400 and "timeout" in answer.json()["error"], timeout
    invalid = await api.put("/flows/rr-bad", json=flow("rr-bad", [SHAPE_STEP], reply={"mode": "never"}))
    assert invalid.status_code == 422


# --- real-time flows ----------------------------------------------------------------------------

async def start_realtime(http: httpx.AsyncClient, definition: dict[str, Any]) -> None:
    await define(http, {**definition, "type": "realtime"})
    started = await http.post(f"/flows/{definition['id']}/start")
    assert started.status_code == 200, started.text

    async def running() -> bool:
        return (await http.get(f"/flows/{definition['id']}/realtime")).json()["state"] == "running"

    await until(running, "the real-time flow to run")


async def test_realtime_reply_by_update(api: httpx.AsyncClient) -> None:
    await start_realtime(api, flow("rr-rt", [SHAPE_STEP, REPLY_STEP]))
    answers = await asyncio.gather(*(api.post("/hooks/rr-rt?reply=first", json={"a": n, "b": 1},
                                              headers={"Idempotency-Key": f"rt-{n}"}) for n in range(5)))
    assert [a.status_code for a in answers] == [201] * 5
    assert [a.json() for a in answers] == [{"created": {"total": n + 1}} for n in range(5)]
    assert answers[0].headers["x-conflux-execution-id"] == "rr-rt:rt-0"
    last = await api.post("/hooks/rr-rt?reply=last", json={"a": 4, "b": 4})
    assert last.status_code == 204, last.text  # the reply step emits no data: filtered
    await start_realtime(api, flow("rr-rt-out", [SHAPE_STEP]))
    out = await api.post("/hooks/rr-rt-out?reply=last", json={"a": 4, "b": 4})
    assert out.status_code == 200 and out.json() == {"total": 8}
    # a repeated message id: the flow saw it; its answer went to the first request
    again = await api.post("/hooks/rr-rt?reply=first", json={"a": 0, "b": 0}, headers={"Idempotency-Key": "rt-0"})
    assert again.status_code == 409 and "accepted before" in again.json()["error"]
    # the 202 path still works beside it
    plain = await api.post("/hooks/rr-rt", json={"a": 1, "b": 1})
    assert plain.status_code == 202


async def test_realtime_reply_of_a_failing_and_a_slow_message(api: httpx.AsyncClient) -> None:
    await start_realtime(api, flow("rr-rt-slow", [{
        "id": "maybe", "component": "code", "function": "run",
        "config": {"code": "import time\nsent = msg['body']['body']\nif sent.get('fail'):\n"
                           "    raise ValueError('told to fail')\n"
                           "time.sleep(sent.get('sleep', 0))\nreturn {'ok': True}"}}]))
    failed = await api.post("/hooks/rr-rt-slow?reply=last", json={"fail": True})
    assert failed.status_code == 500 and "told to fail" in failed.json()["error"]
    slow = await api.post("/hooks/rr-rt-slow?reply=last&timeout=0.3", json={"sleep": 2})
    assert slow.status_code == 504 and slow.json()["executionId"].startswith("rr-rt-slow:")
    ok = await api.post("/hooks/rr-rt-slow?reply=last", json={})
    assert ok.status_code == 200 and ok.json() == {"ok": True}


FAN_OUT = {"id": "split", "component": "code", "function": "run",
           "config": {"code": "for n in range(3):\n    yield {'n': n}"}}
DOUBLE = {"id": "double", "component": "transform", "function": "transform", "config": {"expression": '{"d": n * 2}'}}


@pytest.mark.parametrize("kind", ["ordinary", "realtime"])
async def test_a_fan_out_answers_with_every_part(api: httpx.AsyncClient, kind: str) -> None:
    definition = flow(f"rr-fan-{kind}", [FAN_OUT, DOUBLE], type=kind)
    if kind == "realtime":
        await start_realtime(api, definition)
    else:
        await define(api, definition)
    answer = await api.post(f"/hooks/rr-fan-{kind}?reply=last", json={})
    assert answer.status_code == 200, answer.text
    assert sorted(part["d"] for part in answer.json()) == [0, 2, 4]
