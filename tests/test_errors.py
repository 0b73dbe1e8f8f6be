"""GET /flows/{id}/errors and POST /flows/{id}/errors/retry against a real Temporal dev server, a
real worker (process runner) and a loopback HTTP target: failures listed with their input and
paged; retried plainly, from the failed step, and with an edited body, on the active version."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.settings import ApiSettings
from conflux.temporal import connect
from tests import test_api
from tests.loopback import LoopbackServer
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

api = test_api.api  # the API and its worker (process runner), as test_api.py starts them
settings = test_api.settings
BROKEN = "raise ValueError('second is broken')"
FIXED = "return {'done': msg['body']['n']}"


@pytest.fixture(scope="module")
def target() -> Iterator[LoopbackServer]:
    """Step ``first`` posts here; it answers with what it got."""
    with LoopbackServer({"/first": lambda _m, _p, _q, body: (200, {"echo": body})}) as server:
        yield server


def two_step_flow(flow_id: str, target_url: str, second_code: str) -> dict[str, Any]:
    """webhook -> first (POST {n} to the target) -> second (code: BROKEN or FIXED, on {n})."""
    return {
        "id": flow_id, "name": f"Errors {flow_id}",
        "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [
            {"id": "first", "component": "http-request", "function": "request", "network": True,
             "mapping": {"n": "body.n"}, "config": {"url": f"{target_url}/first", "method": "POST"}},
            {"id": "second", "component": "code", "function": "run", "mapping": {"n": "body.echo.n"},
             "config": {"code": second_code}},
        ],
    }


async def put(http: httpx.AsyncClient, flow: dict[str, Any]) -> int:
    answer = await http.put(f"/flows/{flow['id']}", json=flow)
    assert answer.status_code in (200, 201), answer.text
    return int(answer.json()["version"])


async def failed_run(http: httpx.AsyncClient, flow_id: str, body: Any, key: str = "") -> dict[str, Any]:
    answer = await http.post(f"/hooks/{flow_id}", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})
    assert answer.status_code == 202, answer.text
    status = await finished(http, answer.json()["executionId"])
    assert status["status"] == "FAILED", status
    return status


async def errors(http: httpx.AsyncClient, flow_id: str, **params: Any) -> dict[str, Any]:
    answer = await http.get(f"/flows/{flow_id}/errors", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def retry(http: httpx.AsyncClient, flow_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await http.post(f"/flows/{flow_id}/errors/retry", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["retries"]


def first_requests(target: LoopbackServer, n: int) -> list[dict[str, str]]:
    """The headers of every request step ``first`` sent for message body {n}."""
    return [headers for (_, path, body), headers in zip(target.received, target.received_headers, strict=True)
            if path == "/first" and body == {"n": n}]


def record(status: dict[str, Any], step_id: str) -> dict[str, Any]:
    [found] = [r for r in status["result"]["records"] if r["stepId"] == step_id]
    return found


async def test_a_failed_message_is_listed_with_its_input_and_retried_on_the_fixed_version(
        api: httpx.AsyncClient, target: LoopbackServer, settings: ApiSettings) -> None:
    assert await put(api, two_step_flow("errs", target.url, BROKEN)) == 1
    failed = await failed_run(api, "errs", {"n": 1}, key="errs-m1")

    [item] = (await errors(api, "errs"))["errors"]
    assert item["flowId"] == "errs" and item["flowVersion"] == 1 and item["stepId"] == "second"
    assert item["executionId"] == failed["executionId"] == "errs:errs-m1" and item["messageId"] == "errs-m1"
    assert item["input"] == {"n": 1}, "what the step received, after its mapping"
    assert "second is broken" in item["error"] and item["errorType"] == "StepError"
    assert item["at"] and item["retries"] == []

    assert await put(api, two_step_flow("errs", target.url, FIXED)) == 2
    [started] = await retry(api, "errs", {"errorIds": [item["errorId"]]})
    assert started["errorId"] == item["errorId"]
    assert started["executionId"] == started["workflowId"] == "errs:errs-m1:retry-1"
    status = await finished(api, started["executionId"])
    assert status["status"] == "COMPLETED" and status["flowVersion"] == 2, status
    assert status["result"]["outputs"] == [{"done": 1}]
    sent = first_requests(target, 1)
    assert len(sent) == 2, "a plain retry runs every step again"
    assert sent[0]["idempotency-key"] == sent[1]["idempotency-key"] == "errs/errs-m1/first", "same message id"

    again = await retry(api, "errs", {"errorIds": [item["errorId"]]})
    assert again[0]["executionId"] == "errs:errs-m1:retry-2", "asking again starts another retry, never the same id"
    await finished(api, again[0]["executionId"])
    [listed] = (await errors(api, "errs"))["errors"]
    assert listed["retries"] == ["errs:errs-m1:retry-1", "errs:errs-m1:retry-2"]

    assert "retry of errs:errs-m1" in status["summary"]
    client = await connect(settings)
    description = await client.get_workflow_handle(started["workflowId"]).describe()
    details = await description.static_details()
    assert details is not None and f"/workflows/errs%3Aerrs-m1/{failed['runId']}/history" in details, details
    assert (await description.memo())["retryOf"] == [{"workflowId": "errs:errs-m1", "runId": failed["runId"],
                                                      "errorId": item["errorId"]}]


async def test_retry_from_the_failed_step_does_not_run_the_steps_before_it(api: httpx.AsyncClient,
                                                                          target: LoopbackServer) -> None:
    await put(api, two_step_flow("errs-step", target.url, BROKEN))
    await failed_run(api, "errs-step", {"n": 2}, key="step-m2")
    [item] = (await errors(api, "errs-step"))["errors"]
    assert len(first_requests(target, 2)) == 1

    await put(api, two_step_flow("errs-step", target.url, FIXED))
    [started] = await retry(api, "errs-step", {"errorIds": [item["errorId"]], "fromStep": True})
    status = await finished(api, started["executionId"])
    assert status["status"] == "COMPLETED", status
    assert [r["stepId"] for r in status["result"]["records"]] == ["second"], "only the failed step and after"
    assert record(status, "second")["input"] == {"n": 2}, "the step's mapping applied again to what reached it"
    assert record(status, "second")["messageId"] == "step-m2"
    assert status["result"]["outputs"] == [{"done": 2}]
    assert len(first_requests(target, 2)) == 1, "step 'first' did not run again"


async def test_edit_and_retry_uses_the_new_body(api: httpx.AsyncClient, target: LoopbackServer) -> None:
    positive = FIXED.replace("return", "assert msg['body']['n'] > 0; return")
    await put(api, two_step_flow("errs-edit", target.url, positive))
    await failed_run(api, "errs-edit", {"n": 0}, key="edit-m")
    [item] = (await errors(api, "errs-edit"))["errors"]
    assert "AssertionError" in item["error"]

    [started] = await retry(api, "errs-edit", {"errorIds": [item["errorId"]], "body": {"n": 30}})
    status = await finished(api, started["executionId"])
    assert status["status"] == "COMPLETED", status
    assert status["result"]["outputs"] == [{"done": 30}]
    assert record(status, "first")["messageId"] == "edit-m~edit-1", "an edited message is a new message"
    assert first_requests(target, 30)[0]["idempotency-key"] == "errs-edit/edit-m~edit-1/first"


FAN_OUT = "for part in range(msg['body']['body']['parts']):\n    yield {'part': part}"


async def test_errors_page_newest_first_one_error_per_failed_part(api: httpx.AsyncClient) -> None:
    flow = {"id": "errs-pages", "name": "Errors paged",
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "split", "component": "code", "function": "run", "config": {"code": FAN_OUT}},
                      {"id": "boom", "component": "code", "function": "run",
                       "config": {"code": "raise ValueError(f\"part {msg['body']['part']}\")"}}]}
    await put(api, flow)
    await failed_run(api, "errs-pages", {"parts": 3}, key="pages-a")
    await failed_run(api, "errs-pages", {"parts": 1}, key="pages-b")

    first = await errors(api, "errs-pages", limit=3)
    assert [e["messageId"] for e in first["errors"]][0] == "pages-b", "newest first"
    assert first["errors"][0]["input"] == {"part": 0} and first["nextPageToken"]
    second = await errors(api, "errs-pages", limit=3, pageToken=first["nextPageToken"])
    assert len(second["errors"]) == 1 and second["nextPageToken"] is None
    parts = {e["messageId"]: e["input"] for e in first["errors"][1:] + second["errors"]}
    assert parts == {"pages-a-0": {"part": 0}, "pages-a-1": {"part": 1}, "pages-a-2": {"part": 2}}, \
        "one error per failed part, the run's three split over two pages"

    walked, token = [], None
    for _ in range(10):  # four errors: a cursor that never ends fails the test instead of hanging it
        page = await errors(api, "errs-pages", limit=1, **({"pageToken": token} if token else {}))
        walked += [e["errorId"] for e in page["errors"]]
        token = page["nextPageToken"]
        if token is None:
            break
    assert token is None, "the walk ends"
    assert walked == [e["errorId"] for e in first["errors"] + second["errors"]], "one at a time: the same list"

    [a0, a1] = first["errors"][1:]
    both = await retry(api, "errs-pages", {"errorIds": [a0["errorId"], a1["errorId"]]})
    assert {r["errorId"] for r in both} == {a0["errorId"], a1["errorId"]}
    assert both[0]["executionId"] == both[1]["executionId"] == "errs-pages:pages-a:retry-1", \
        "two parts of one run: their message runs again once"
    await finished(api, both[0]["executionId"])


async def test_refusals_say_why(api: httpx.AsyncClient, target: LoopbackServer) -> None:
    await put(api, two_step_flow("errs-bad", target.url, BROKEN))
    await failed_run(api, "errs-bad", {"n": 4})
    [item] = (await errors(api, "errs-bad"))["errors"]

    unknown = await api.post("/flows/errs-bad/errors/retry", json={"errorIds": ["nonsense", item["errorId"]]})
    assert unknown.status_code == 404, unknown.text
    assert [p["where"] for p in unknown.json()["problems"]] == ["nonsense"]
    assert "nothing was retried" in unknown.json()["error"]
    foreign = await api.post("/flows/errs/errors/retry", json={"errorIds": [item["errorId"]]})
    assert foreign.status_code == 404 and "no such failure of flow 'errs'" in foreign.json()["problems"][0]["problem"]

    two_bodies = await api.post("/flows/errs-bad/errors/retry",
                                json={"errorIds": [item["errorId"], "other"], "body": {"n": 1}})
    assert two_bodies.status_code == 422 and "exactly one errorId" in two_bodies.json()["error"]
    bad_token = await api.get("/flows/errs-bad/errors", params={"pageToken": "zzz"})
    assert bad_token.status_code == 400 and "pageToken" in bad_token.json()["error"]
    assert (await api.get("/flows/nope/errors")).status_code == 404

    renamed = two_step_flow("errs-bad", target.url, FIXED)
    renamed["steps"][1]["id"] = "second-b"
    await put(api, renamed)
    gone = await api.post("/flows/errs-bad/errors/retry", json={"errorIds": [item["errorId"]], "fromStep": True})
    assert gone.status_code == 409, gone.text
    assert "no step 'second'" in gone.json()["error"] and "'hook', 'first', 'second-b'" in gone.json()["error"]


REALTIME_BROKEN = "assert msg['body']['body']['n'] != 13, 'thirteen'\nreturn {'n': msg['body']['body']['n']}"


async def test_a_real_time_failure_is_retried_past_the_dedup_window(api: httpx.AsyncClient) -> None:
    check = {"id": "check", "component": "code", "function": "run", "config": {"code": REALTIME_BROKEN}}
    flow: dict[str, Any] = {"id": "errs-rt", "name": "Errors real-time", "type": "realtime", "steps": [check],
                            "trigger": {"id": "hook", "component": "webhook", "function": "receive"}}
    await put(api, flow)
    assert (await api.post("/flows/errs-rt/start")).status_code == 200

    async def realtime() -> dict[str, Any]:
        return (await api.get("/flows/errs-rt/realtime")).json()

    await until(lambda: _when(realtime(), lambda s: s["state"] == "running"), "errs-rt running")
    assert (await api.post("/hooks/errs-rt", json={"n": 13}, headers={"Idempotency-Key": "rt-13"})).status_code == 202
    page = await until(lambda: _when(errors(api, "errs-rt"), lambda p: p["errors"]), "the real-time failure")
    [item] = page["errors"]
    assert item["executionId"] == "errs-rt:rt-13" and item["stepId"] == "check" and item["flowVersion"] == 1
    assert "thirteen" in item["error"]

    fixed = {**flow, "steps": [{**check, "config": {"code": "return {'n': msg['body']['body']['n']}"}}]}
    await put(api, fixed)
    await until(lambda: _when(realtime(), lambda s: s["flowVersion"] == 2 and not s["publishingVersion"]),
                "v2 switched in")
    [started] = await retry(api, "errs-rt", {"errorIds": [item["errorId"]]})
    assert started["workflowId"] == "realtime:errs-rt" and started["executionId"] == "errs-rt:rt-13:retry-1"
    done = await until(lambda: _when(realtime(), lambda s: s["counters"]["delivered"] == 1), "the retry delivered")
    assert done["counters"]["failed"] == 1 and done["counters"]["duplicates"] == 0
    [listed] = (await errors(api, "errs-rt"))["errors"]
    assert listed["retries"] == ["errs-rt:rt-13:retry-1"]
    assert (await api.post("/flows/errs-rt/stop")).status_code == 200


async def _when(value: Any, condition: Any) -> Any:
    resolved = await value
    return resolved if condition(resolved) else None


async def test_a_polled_record_that_failed_is_retried_alone(api: httpx.AsyncClient) -> None:
    rows = [{"id": 1, "updated_at": "2026-03-01T00:00:00Z"}, {"id": 2, "updated_at": "2026-03-02T00:00:00Z"}]
    with LoopbackServer({"/rows": lambda *_: (200, rows)}) as source:
        check = {"id": "check", "component": "code", "function": "run",
                 "config": {"code": "assert msg['body']['id'] != 2, 'two'\nreturn {'id': msg['body']['id']}"}}
        flow = {**test_api.POLLING_FLOW, "id": "errs-poll", "name": "Errors polled",
                "trigger": {**test_api.POLLING_FLOW["trigger"], "config": {"url": f"{source.url}/rows"}},
                "steps": [check]}
        await put(api, flow)
        assert (await api.post("/flows/errs-poll/start")).status_code == 200
        page = await until(lambda: _when(errors(api, "errs-poll"), lambda p: p["errors"]), "the polled failure")
        [item] = page["errors"]
        assert item["executionId"] == "poll:errs-poll/poll-1/records" and item["input"]["id"] == 2

        await put(api, {**flow, "steps": [{**check, "config": {"code": "return {'id': msg['body']['id']}"}}]})
        [started] = await retry(api, "errs-poll", {"errorIds": [item["errorId"]]})
        assert started["executionId"] == f"errs-poll:{item['messageId']}:retry-1"
        status = await finished(api, started["executionId"])
        assert status["status"] == "COMPLETED" and status["flowVersion"] == 2, status
        assert status["result"]["outputs"] == [{"id": 2}], "the failed record alone, not the whole poll"
        assert [r["stepId"] for r in status["result"]["records"]] == ["check"], "the poll did not run again"
        assert (await api.post("/flows/errs-poll/stop")).status_code == 200
