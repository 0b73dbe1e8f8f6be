"""The HTTP API against a real Temporal dev server and a real in-process worker.

Steps run through the process runner (local subprocesses), so these tests need no Docker.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from conflux.temporal import connect
from tests.api_harness import api_settings, api_with_worker
from tests.loopback import LoopbackServer, Sink
from tests.test_realtime import realtime_flow, status_when, until_running
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

MAX_BODY = 64 * 1024
RUN_TIMEOUT = 60.0

WEBHOOK_FLOW: dict[str, Any] = {
    "id": "orders",
    "name": "Orders",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{
        "id": "shape",
        "component": "transform",
        "function": "transform",
        "mapping": {"order": "body", "where": "path", "source": "query.source"},
        "config": {"expression": '{"id": order.id, "total": $sum(order.lines.(qty * price)), '
                                 '"where": where, "source": source}'},
    }],
}
POLLING_FLOW: dict[str, Any] = {
    "id": "poller",
    "name": "Poller",
    "trigger": {"id": "poll", "component": "poll-http", "function": "poll", "type": "polling", "interval": 60,
                "config": {"url": "http://127.0.0.1:9/records"}},
    "steps": [],
}
FAILING_FLOW: dict[str, Any] = {
    "id": "breaks",
    "name": "Breaks",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "boom", "component": "transform", "function": "transform",
               "config": {"expression": '$error("no good")'}}],
}


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("api"), "api-tests", max_body_bytes=MAX_BODY)


@pytest.fixture(scope="module")
async def api(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app and a worker on the test's own task queue, sharing one client."""
    async with api_with_worker(settings) as http:
        for flow in (WEBHOOK_FLOW, POLLING_FLOW, FAILING_FLOW):
            answer = await http.put(f"/flows/{flow['id']}", json=flow)
            assert answer.status_code in (200, 201), answer.text
        yield http


def record(status: dict[str, Any], step_id: str) -> dict[str, Any]:
    [found] = [r for r in status["result"]["records"] if r["stepId"] == step_id]
    return found


# --- flow definitions ---------------------------------------------------------------------------

async def test_create_list_get_and_versions(api: httpx.AsyncClient) -> None:
    flow = {**WEBHOOK_FLOW, "id": "crud", "name": "Crud"}
    created = await api.post("/flows", json=flow)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["created"] is True
    assert created.headers["location"] == "/flows/crud"

    again = await api.post("/flows", json=flow)
    assert again.status_code == 409 and "PUT /flows/crud" in again.json()["error"]

    same = await api.put("/flows/crud", json=flow)
    assert same.status_code == 200 and same.json()["version"] == 1 and same.json()["changed"] is False

    renamed = await api.put("/flows/crud", json={**flow, "name": "Crud renamed"})
    assert renamed.json()["version"] == 2 and renamed.json()["changed"] is True
    assert renamed.json()["revision"] != created.json()["revision"]

    listed = {f["id"]: f for f in (await api.get("/flows")).json()["flows"]}
    assert listed["crud"] == {**listed["crud"], "name": "Crud renamed", "version": 2, "type": "ordinary",
                              "triggerType": "webhook", "revision": renamed.json()["revision"]}
    assert listed["poller"]["triggerType"] == "polling"

    latest = await api.get("/flows/crud")
    assert latest.json()["version"] == 2 and latest.json()["name"] == "Crud renamed"
    assert latest.headers["etag"] == f'"{renamed.json()["revision"]}"'
    assert latest.json()["steps"][0]["image"].startswith("conflux/transform:"), "images are pinned"
    first = await api.get("/flows/crud", params={"version": 1})
    assert first.json()["name"] == "Crud" and first.json()["version"] == 1

    versions = (await api.get("/flows/crud/versions")).json()["versions"]
    assert [(v["version"], v["name"]) for v in versions] == [(1, "Crud"), (2, "Crud renamed")]

    assert (await api.put("/flows/crud", json=latest.json())).json()["changed"] is False, "GET round-trips"
    missing_version = await api.get("/flows/crud", params={"version": 9})
    assert missing_version.status_code == 404 and "/flows/crud/versions" in missing_version.json()["error"]


async def test_invalid_flow_lists_every_problem(api: httpx.AsyncClient) -> None:
    answer = await api.post("/flows", json={
        "id": "broken", "name": "Broken",
        "trigger": {"id": "in", "component": "no-such-thing", "function": "receive"},
        "steps": [{"id": "t", "component": "transform", "function": "transform", "mapping": {"x": "$$$("}}],
    })
    assert answer.status_code == 422, answer.text
    problems = {p["where"]: p["problem"] for p in answer.json()["problems"]}
    assert "unknown component 'no-such-thing'" in problems["trigger.component"]
    assert "does not parse" in problems["steps[0] (t).mapping.x"]
    assert "required field 'expression'" in problems["steps[0] (t).config.expression"]
    assert len(problems) == 3
    assert (await api.get("/flows/broken")).status_code == 404, "nothing stored"


async def test_bad_definitions_are_4xx(api: httpx.AsyncClient) -> None:
    malformed = await api.post("/flows", content=b'{"id": "x",', headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]
    mismatch = await api.put("/flows/one", json={**WEBHOOK_FLOW, "id": "two"})
    assert mismatch.status_code == 422 and mismatch.json()["problems"][0]["where"] == "id"
    model = await api.post("/flows", json={"id": "Bad Id", "name": "x", "trigger": {}})
    assert model.status_code == 422 and {p["where"] for p in model.json()["problems"]} >= {"id", "trigger.id"}


# --- webhooks and executions --------------------------------------------------------------------

async def test_webhook_runs_the_flow(api: httpx.AsyncClient) -> None:
    order = {"id": "A-1", "lines": [{"qty": 2, "price": 5}, {"qty": 1, "price": 3}]}
    answer = await api.post("/hooks/orders/eu/shop?source=web", json=order,
                            headers={"Authorization": "Bearer secret", "X-Custom": "yes"})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["message"] == "thank you" and accepted["duplicate"] is False
    assert accepted["workflowId"] == f"orders:{accepted['requestId']}"

    status = await finished(api, accepted["executionId"])
    assert status["status"] == "COMPLETED", status
    assert status["executionId"] == status["workflowId"] == accepted["executionId"] == status["result"]["executionId"]
    assert (status["flowId"], status["flowVersion"], status["triggerType"]) == ("orders", 1, "webhook")
    assert status["closeTime"] is not None and "Orders v1" in status["summary"]
    assert status["links"]["temporalUi"].endswith(f"/workflows/orders%3A{accepted['requestId']}")

    hook = record(status, "hook")
    assert hook["status"] == "ok" and hook["component"] == "webhook"
    request = hook["output"]
    assert request["body"] == order and request["method"] == "POST" and request["path"] == "eu/shop"
    assert request["query"] == {"source": "web"} and request["url"].endswith("/hooks/orders/eu/shop?source=web")
    assert request["headers"]["x-custom"] == "yes" and "authorization" not in request["headers"]

    shape = record(status, "shape")
    assert shape["input"] == {"order": order, "where": "eu/shop", "source": "web"}, "mapping applied"
    assert shape["output"] == {"id": "A-1", "total": 13, "where": "eu/shop", "source": "web"}
    assert status["result"]["outputs"] == [shape["output"]]
    assert status["result"]["totals"] == {"delivered": 1, "filtered": 0, "failed": 0, "stepRuns": 2}
    assert status["result"]["recordsDropped"] == 0 and status["result"]["httpReply"] is None


async def test_duplicate_delivery_starts_nothing_new(api: httpx.AsyncClient) -> None:
    key = f"delivery-{uuid.uuid4()}"
    first = await api.post("/hooks/orders", json={"id": "D-1", "lines": []}, headers={"Idempotency-Key": key})
    second = await api.post("/hooks/orders", json={"id": "D-1", "lines": []}, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    assert first.json()["workflowId"] == second.json()["workflowId"] == f"orders:{key}"
    status = await finished(api, first.json()["executionId"])

    late = await api.post("/flows/orders/executions", json={"id": "D-1"}, headers={"Idempotency-Key": key})
    assert late.status_code == 202 and late.json()["duplicate"] is True, "a closed run is not run again"
    assert late.json()["runId"] == status["runId"]
    assert (await finished(api, first.json()["executionId"]))["runId"] == status["runId"]


async def test_rate_limit_answers_429_with_retry_after_across_api_processes(settings: ApiSettings,
                                                                            api: httpx.AsyncClient) -> None:
    """Two apps on one database, as two API processes: the limit is the flow's, not each app's."""
    flow = {**WEBHOOK_FLOW, "id": "limited", "rate_limit": {"per_second": 0.5, "burst": 3}}
    assert (await api.put("/flows/limited", json=flow)).status_code == 201
    other_app = create_app(settings, client=await connect(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://conflux") as other:
        answers = [await sender.post("/hooks/limited", json={"id": f"L-{n}", "lines": []})
                   for n, sender in enumerate([api, other, api, other])]
    assert [a.status_code for a in answers] == [202, 202, 202, 429], [a.text for a in answers]
    refused = answers[3]
    assert refused.headers["retry-after"] in ("1", "2"), "the next one 2 s after the last (less what the sends took)"
    assert "0.5 message(s) per second" in refused.json()["error"] and "rate_limit" in refused.json()["error"]
    for accepted in answers[:3]:
        assert (await finished(api, accepted.json()["executionId"]))["status"] == "COMPLETED"


async def test_a_stopped_webhook_flow_answers_409_until_started(api: httpx.AsyncClient) -> None:
    assert (await api.put("/flows/stoppable", json={**WEBHOOK_FLOW, "id": "stoppable"})).status_code == 201
    running = await api.post("/hooks/stoppable", json={"id": "S-1", "lines": []})
    assert running.status_code == 202, "a webhook flow takes messages once saved"
    stopped = await api.post("/flows/stoppable/stop")
    assert stopped.status_code == 200 and stopped.json() == {"flowId": "stoppable", "version": 1, "state": "stopped"}
    for refused in (await api.post("/hooks/stoppable", json={"id": "S-2", "lines": []}),
                    await api.post("/flows/stoppable/executions", json={"id": "S-2", "lines": []})):
        assert refused.status_code == 409 and "POST /flows/stoppable/start" in refused.json()["error"]
    assert (await finished(api, running.json()["executionId"]))["status"] == "COMPLETED", "accepted before: went on"
    assert (await api.post("/flows/stoppable/start")).json()["state"] == "running"
    assert (await api.post("/hooks/stoppable", json={"id": "S-3", "lines": []})).status_code == 202


async def test_post_execution(api: httpx.AsyncClient) -> None:
    answer = await api.post("/flows/orders/executions", json={"id": "E-1", "lines": [{"qty": 3, "price": 2}]},
                            headers={"X-Request-Id": "req-e1"})
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert started["requestId"] == "req-e1" and started["workflowId"] == "orders:req-e1"
    assert started["executionId"] == started["workflowId"] and started["runId"]
    assert started["links"]["status"] == "/executions/orders:req-e1"
    status = await finished(api, started["executionId"])
    assert status["status"] == "COMPLETED"
    assert record(status, "shape")["output"]["total"] == 6


async def test_failed_run_shows_its_records(api: httpx.AsyncClient) -> None:
    answer = await api.post("/hooks/breaks", json={"n": 1})
    status = await finished(api, answer.json()["executionId"])
    assert status["status"] == "FAILED" and status["failedSteps"] == ["boom"]
    assert "no good" in status["error"]
    assert record(status, "hook")["status"] == "ok"
    failed = record(status, "boom")
    assert failed["status"] == "failed" and "no good" in failed["error"]
    assert status["result"]["status"] == "failed" and status["result"]["totals"]["failed"] == 1


async def test_oversized_bodies_are_refused(api: httpx.AsyncClient) -> None:
    big = json.dumps({"blob": "x" * MAX_BODY}).encode()
    declared = await api.post("/hooks/orders", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and f"{MAX_BODY:,} bytes" in declared.json()["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * (MAX_BODY // 2)

    streamed = await api.post("/hooks/orders", content=chunks())
    assert streamed.status_code == 413, "counted while streaming, without Content-Length"
    execution = await api.post("/flows/orders/executions", content=big)
    assert execution.status_code == 413


async def test_non_json_bodies(api: httpx.AsyncClient) -> None:
    text = await api.post("/hooks/orders", content="hello there", headers={"content-type": "text/plain"})
    assert text.status_code == 202
    status = await finished(api, text.json()["executionId"])
    assert record(status, "hook")["output"]["body"] == {"raw": "hello there"}

    form = await api.post("/hooks/orders", data={"id": "F-1", "tag": ["a", "b"]})
    status = await finished(api, form.json()["executionId"])
    assert record(status, "hook")["output"]["body"] == {"id": "F-1", "tag": ["a", "b"]}

    empty = await api.get("/hooks/orders?id=G-1")
    status = await finished(api, empty.json()["executionId"])
    request = record(status, "hook")["output"]
    assert request["body"] == {} and request["method"] == "GET" and request["query"] == {"id": "G-1"}

    malformed = await api.post("/hooks/orders", content=b"{oops", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "line 1, column 2" in malformed.json()["error"]


async def test_unknown_and_wrong_targets(api: httpx.AsyncClient) -> None:
    assert (await api.post("/hooks/nope", json={})).status_code == 404
    assert (await api.post("/flows/nope/executions", json={})).status_code == 404
    unknown_run = await api.get("/executions/orders:never-sent")
    assert unknown_run.status_code == 404 and "no execution" in unknown_run.json()["error"]

    polling = await api.post("/hooks/poller", json={})
    assert polling.status_code == 409 and "polling trigger" in polling.json()["error"]
    bad_key = await api.post("/hooks/orders", json={}, headers={"Idempotency-Key": "has spaces in it"})
    assert bad_key.status_code == 400 and "idempotency-key" in bad_key.json()["error"]


async def test_elastic_io_hook_path(api: httpx.AsyncClient) -> None:
    answer = await api.post("/hook/orders", json={"id": "H-1", "lines": []})
    assert answer.status_code == 202 and answer.json()["message"] == "thank you"
    assert (await finished(api, answer.json()["executionId"]))["status"] == "COMPLETED"


async def test_health_and_docs(api: httpx.AsyncClient) -> None:
    health = await api.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "temporal": "ok", "db": "ok"}
    assert (await api.get("/docs")).status_code == 200
    schema = (await api.get("/openapi.json")).json()
    assert {"/flows", "/hooks/{flow_id}", "/executions/{execution_id}"} <= set(schema["paths"])


async def test_temporal_down_is_503(settings: ApiSettings, tmp_path: Path) -> None:
    down = settings.model_copy(update={"temporal_address": "127.0.0.1:1", "db_path": tmp_path / "c.db"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(down)), base_url="http://c") as http:
        assert (await http.put("/flows/orders", json=WEBHOOK_FLOW)).status_code == 201
        answer = await http.post("/hooks/orders", json={})
        assert answer.status_code == 503 and "not reachable" in answer.json()["error"]
        health = await http.get("/healthz")
        assert health.status_code == 503 and health.json()["db"] == "ok"
        assert (await http.put("/flows/poller", json=POLLING_FLOW)).status_code == 201
        listed = {f["id"]: f["state"] for f in (await http.get("/flows")).json()["flows"]}
        assert listed == {"orders": "running", "poller": "unknown"}, "listed without Temporal's answer"


# --- polling flows ------------------------------------------------------------------------------

async def test_polling_flow_lifecycle_and_snapshot(api: httpx.AsyncClient) -> None:
    rows = [{"id": 1, "updated_at": "2026-03-01T00:00:00Z"}, {"id": 2, "updated_at": "2026-03-02T00:00:00Z"}]
    with LoopbackServer({"/rows": lambda *_: (200, rows)}) as source:
        flow = {**POLLING_FLOW, "id": "api-poller", "name": "API poller",
                "trigger": {**POLLING_FLOW["trigger"], "config": {"url": f"{source.url}/rows"}}}
        assert (await api.put("/flows/api-poller", json=flow)).status_code == 201

        assert (await api.get("/flows/api-poller/polling")).status_code == 409  # not started yet
        started = await api.post("/flows/api-poller/start")
        assert started.status_code == 200, started.text
        assert started.json()["state"] == "running"
        assert {"flowId", "flowVersion", "pollingNow", "nextPollAt", "lastPoll"} <= set(started.json()), "camelCase"

        status = await _polls_done(api, "api-poller", 1)
        assert status["snapshot"]["since"] == "2026-03-02T00:00:00Z"
        assert (await api.get("/flows/api-poller/snapshot")).json()["since"] == "2026-03-02T00:00:00Z"

        assert (await api.post("/flows/api-poller/pause")).json()["state"] == "paused"
        assert (await api.put("/flows/api-poller/snapshot", json={"since": "2026-03-01T12:00:00Z"})).status_code == 200
        assert (await api.post("/flows/api-poller/run-now")).status_code == 200
        status = await _polls_done(api, "api-poller", 2)
        assert status["lastPoll"]["records"] == 1  # only the record after the reset timestamp
        assert status["lastPoll"]["snapshotAdvanced"] is True and status["lastPoll"]["pollNumber"] == 2
        assert set(status["lastPoll"]["totals"]) == {"delivered", "filtered", "failed", "stepRuns"}

        stopped = await api.post("/flows/api-poller/stop")
        assert stopped.json()["state"] == "stopped"
        refused = await api.post("/flows/api-poller/run-now")
        assert refused.status_code == 409 and "stopped" in refused.json()["error"]


async def _polls_done(api: httpx.AsyncClient, flow_id: str, polls: int) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        status = (await api.get(f"/flows/{flow_id}/polling")).json()
        return status if status["polls"] >= polls and not status["pollingNow"] else None

    return await until(done, f"{polls} poll(s) of {flow_id} done", RUN_TIMEOUT)


# --- drafts and publishing ----------------------------------------------------------------------

def shaped(flow_id: str, tag: str) -> dict[str, Any]:
    """A webhook flow whose output says which content ran it."""
    return {**WEBHOOK_FLOW, "id": flow_id, "steps": [{
        "id": "shape", "component": "transform", "function": "transform",
        "config": {"expression": f'{{"tag": "{tag}", "id": body.id}}'}}]}


async def ran_tag(api: httpx.AsyncClient, answer: httpx.Response) -> tuple[int, str]:
    """The version and the tag of the run a 202 started."""
    assert answer.status_code == 202, answer.text
    status = await finished(api, answer.json()["executionId"])
    assert status["status"] == "COMPLETED", status
    return status["flowVersion"], record(status, "shape")["output"]["tag"]


async def test_a_draft_is_validated_on_save_read_and_deleted(api: httpx.AsyncClient) -> None:
    invalid = await api.put("/flows/drafted/draft", json={**shaped("drafted", "a"), "steps": [
        {"id": "t", "component": "transform", "function": "transform", "mapping": {"x": "$$$("}}]})
    assert invalid.status_code == 422, invalid.text
    assert {p["where"] for p in invalid.json()["problems"]} == {"steps[0] (t).mapping.x",
                                                                "steps[0] (t).config.expression"}
    assert (await api.get("/flows/drafted/draft")).status_code == 404, "nothing stored"

    created = await api.put("/flows/drafted/draft", json=shaped("drafted", "a"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "draft", "revision", "savedAt"} and body["id"] == "drafted"
    assert body["draft"]["steps"][0]["image"].startswith("conflux/transform:"), "validated as PUT /flows/{id}"
    replaced = await api.put("/flows/drafted/draft", json=shaped("drafted", "b"))
    assert replaced.status_code == 200 and replaced.json()["revision"] != body["revision"]
    assert (await api.get("/flows/drafted/draft")).json() == replaced.json()

    only_draft = await api.get("/flows/drafted")
    assert only_draft.status_code == 404
    assert "only a draft" in only_draft.json()["error"] and "POST /flows/drafted/publish" in only_draft.json()["error"]

    assert (await api.delete("/flows/drafted/draft")).status_code == 204
    gone = await api.get("/flows/drafted/draft")
    assert gone.status_code == 404 and "there is no flow 'drafted'" in gone.json()["error"]
    assert (await api.delete("/flows/never-was/draft")).status_code == 404
    assert (await api.post("/flows/drafted/publish")).status_code == 404


async def test_a_flow_with_only_a_draft_takes_messages_once_published(settings: ApiSettings,
                                                                      api: httpx.AsyncClient) -> None:
    """Another app on the same database (another API process) sees the publish at the next request."""
    assert (await api.put("/flows/unpublished/draft", json=shaped("unpublished", "a"))).status_code == 201
    other_app = create_app(settings, client=await connect(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://conflux") as other:
        for refused in (await other.post("/hooks/unpublished", json={"id": "U-1"}),
                        await other.post("/flows/unpublished/executions", json={"id": "U-1"}),
                        await api.post("/hooks/unpublished", json={"id": "U-1"})):
            assert refused.status_code == 409, refused.text
            assert "POST /flows/unpublished/publish" in refused.json()["error"]

        published = await api.post("/flows/unpublished/publish")
        assert published.status_code == 200, published.text
        assert published.json() | {"flow": None} == published.json() | {
            "version": 1, "created": True, "changed": True, "previousVersion": None, "flow": None}
        assert await ran_tag(api, await other.post("/hooks/unpublished", json={"id": "U-2"})) == (1, "a")
    assert (await api.get("/flows/unpublished/draft")).status_code == 404, "the draft is gone"


async def test_publish_makes_the_draft_the_version_of_the_next_message(api: httpx.AsyncClient) -> None:
    assert (await api.put("/flows/publishing", json=shaped("publishing", "v1"))).status_code == 201
    assert (await api.put("/flows/publishing/draft", json=shaped("publishing", "v2"))).status_code == 200
    assert (await api.get("/flows/publishing/draft")).json()["draft"]["version"] == 2
    before = await api.post("/hooks/publishing", json={"id": "P-1"})
    assert await ran_tag(api, before) == (1, "v1"), "a draft never runs"

    published = await api.post("/flows/publishing/publish")
    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.json()["previousVersion"]) == (2, 1)
    assert published.json()["changed"] is True and published.json()["created"] is False
    assert await ran_tag(api, await api.post("/hooks/publishing", json={"id": "P-2"})) == (2, "v2")

    nothing = await api.post("/flows/publishing/publish")
    assert nothing.status_code == 409 and "PUT /flows/publishing/draft" in nothing.json()["error"]
    assert (await api.get("/flows/publishing/draft")).status_code == 404


async def test_rollback_and_publishing_the_active_content(api: httpx.AsyncClient) -> None:
    assert (await api.put("/flows/rollback", json=shaped("rollback", "first"))).status_code == 201
    second = await api.put("/flows/rollback", json=shaped("rollback", "second"))
    assert second.json()["version"] == 2
    assert (await api.put("/flows/rollback/draft", json=shaped("rollback", "work in progress"))).status_code == 200

    rolled_back = await api.post("/flows/rollback/publish", json={"version": 1})
    assert rolled_back.status_code == 200, rolled_back.text
    first = (await api.get("/flows/rollback", params={"version": 1})).json()
    assert (rolled_back.json()["version"], rolled_back.json()["previousVersion"]) == (3, 2)
    assert rolled_back.json()["flow"] == {**first, "version": 3}, "version 1's content as version 3"
    assert await ran_tag(api, await api.post("/hooks/rollback", json={"id": "R-1"})) == (3, "first")
    assert (await api.get("/flows/rollback/draft")).status_code == 200, "a rollback keeps the draft"
    no_such = await api.post("/flows/rollback/publish", json={"version": 9})
    assert no_such.status_code == 404 and "/flows/rollback/versions" in no_such.json()["error"]
    for beyond in (await api.post("/flows/rollback/publish", json={"version": 2**63}),  # found by tests/test_api_fuzz
                   await api.get("/flows/rollback", params={"version": 2**63})):
        assert beyond.status_code == 422, beyond.text  # was a 500: the number does not fit SQLite's integers

    assert (await api.post("/flows/rollback/stop")).status_code == 200
    same = await api.put("/flows/rollback/draft", json={**shaped("rollback", "first"), "version": 7})
    assert same.status_code == 200
    unchanged = await api.post("/flows/rollback/publish")
    assert unchanged.status_code == 200 and unchanged.json()["changed"] is False
    assert (unchanged.json()["version"], unchanged.json()["previousVersion"]) == (3, 3)
    assert (await api.get("/flows/rollback/draft")).status_code == 404, "published: the draft is gone"
    assert [v["version"] for v in (await api.get("/flows/rollback/versions")).json()["versions"]] == [1, 2, 3]
    assert (await api.post("/hooks/rollback", json={"id": "R-2"})).status_code == 409, "stopped stays stopped"


async def test_the_flow_list_shows_each_flows_state_active_version_and_draft(api: httpx.AsyncClient) -> None:
    assert (await api.put("/flows/listed-draft/draft", json=shaped("listed-draft", "a"))).status_code == 201
    assert (await api.put("/flows/listed-stopped", json=shaped("listed-stopped", "a"))).status_code == 201
    assert (await api.post("/flows/listed-stopped/stop")).status_code == 200
    assert (await api.put("/flows/listed-stopped/draft", json=shaped("listed-stopped", "b"))).status_code == 200

    listed = {f["id"]: f for f in (await api.get("/flows")).json()["flows"]}
    draft = listed["listed-draft"]
    assert {k: draft[k] for k in ("version", "state", "hasDraft", "type", "triggerType")} == {
        "version": None, "state": "draft", "hasDraft": True, "type": "ordinary", "triggerType": "webhook"}
    assert {k: listed["listed-stopped"][k] for k in ("version", "state", "hasDraft")} == {
        "version": 1, "state": "stopped", "hasDraft": True}
    assert {k: listed["orders"][k] for k in ("version", "state", "hasDraft")} == {
        "version": 1, "state": "running", "hasDraft": False}
    assert listed["poller"]["state"] == "stopped", "its poller was never started (asked of Temporal)"
    assert list(listed) == sorted(listed)


class Stream:
    """Webhook messages to one flow, one after another (n = 0, 1, ...), each of which must be
    accepted (202), until stopped: what a sender does while an operator publishes."""

    def __init__(self, api: httpx.AsyncClient, flow_id: str) -> None:
        self.api, self.flow_id = api, flow_id
        self.sent: list[httpx.Response] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._send())

    async def stop(self) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _send(self) -> None:
        while not self._stop.is_set():
            n = len(self.sent)
            answer = await self.api.post(f"/hooks/{self.flow_id}", json={"n": n},
                                         headers={"Idempotency-Key": f"{self.flow_id}-{n}"})
            assert answer.status_code == 202, f"message {n}: {answer.text}"
            self.sent.append(answer)

    async def across(self, change: Any, at_least: int = 5) -> Any:
        """``change()`` with messages accepted just before and just after it; its answer."""
        self.start()
        before = len(self.sent)
        await until(lambda: self._sent_at_least(before + at_least), "messages before the change")
        changed = await change()
        after = len(self.sent)
        await until(lambda: self._sent_at_least(after + at_least), "messages after the change")
        await self.stop()
        return changed

    def _sent_at_least(self, count: int) -> bool:
        """Raises what ended the sender (a message not answered 202) instead of waiting for more."""
        if self._task is not None and self._task.done():
            self._task.result()
        return len(self.sent) >= count


async def test_switching_ordinary_to_realtime_and_back_is_a_publish_that_loses_nothing(api: httpx.AsyncClient) -> None:
    """The steps run as local processes (the process runner): the real-time flow's warm steps too."""
    sink = Sink()
    with LoopbackServer({"/sink": sink.route}) as server:
        flow_id = "switching"
        ordinary = {**realtime_flow(flow_id, server.url, version_tag=1), "type": "ordinary"}
        assert (await api.put(f"/flows/{flow_id}", json=ordinary)).status_code == 201
        stream = Stream(api, flow_id)

        async def publish(definition: dict[str, Any]) -> dict[str, Any]:
            assert (await api.put(f"/flows/{flow_id}/draft", json=definition)).status_code == 200
            published = await api.post(f"/flows/{flow_id}/publish")
            assert published.status_code == 200, published.text
            return published.json()

        to_realtime = await stream.across(lambda: publish(realtime_flow(flow_id, server.url, version_tag=2)))
        assert (to_realtime["version"], to_realtime["type"]) == (2, "realtime")
        realtime_answers = [a for a in stream.sent if a.json()["workflowId"] == f"realtime:{flow_id}"]
        assert realtime_answers, "the messages after the publish went to the real-time flow (queued in its warm-up)"
        assert stream.sent[-1] in realtime_answers
        await until_running(api, flow_id)
        listed = {f["id"]: f for f in (await api.get("/flows")).json()["flows"]}[flow_id]
        assert (listed["type"], listed["state"], listed["version"]) == ("realtime", "running", 2)

        back = await stream.across(lambda: publish({**ordinary, "steps": realtime_flow(
            flow_id, server.url, version_tag=3)["steps"]}))
        assert (back["version"], back["type"]) == (3, "ordinary")
        assert stream.sent[-1].json()["workflowId"] != f"realtime:{flow_id}", "ordinary runs again"
        drained = await until(lambda: status_when(api, flow_id, lambda s: s["state"] == "stopped"),
                              "the real-time workflow drained and stopped")
        to_workflow = [a for a in stream.sent if a.json()["workflowId"] == f"realtime:{flow_id}"]
        assert drained["counters"]["accepted"] == drained["counters"]["delivered"] == len(to_workflow)

        sent = len(stream.sent)
        await until(lambda: len(sink.of(flow_id)) >= sent, f"{sent} deliveries", deadline=180)
        assert sorted(body["n"] for body in sink.of(flow_id)) == list(range(sent)), "lost or duplicated"
        tags = [body["tag"] for body in sorted(sink.of(flow_id), key=lambda body: body["n"])]
        assert tags == sorted(tags) and set(tags) == {1, 2, 3}, "each message ran on the version active for it"
        state = {f["id"]: f for f in (await api.get("/flows")).json()["flows"]}[flow_id]["state"]
        assert state == "running"


# --- flow variables and elastic.io's JSONata extensions in mappings -------------------------------

VARIABLES_FLOW: dict[str, Any] = {
    "id": "variables",
    "name": "Variables",
    "variables": {"region": "eu", "threshold": 10},
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [
        {"id": "keep", "component": "filter", "function": "filter",
         "config": {"expression": "body.total > $getFlowVariables().threshold"}},
        {"id": "shape", "component": "transform", "function": "transform",
         "mapping": {"region": "$getFlowVariables().region", "custom": 'elasticio.hook.headers."x-custom"',
                     "total": "elasticio.hook.body.body.total", "stepId": "elasticio.hook.stepId",
                     "kept": "$getPassthrough().keep.body.body.total"},
         "config": {"expression": "$merge([$, {'threshold': $getFlowVariables().threshold}])"}},
    ],
}


async def run_variables_flow(api: httpx.AsyncClient, total: int) -> dict[str, Any]:
    answer = await api.post("/hooks/variables", json={"total": total}, headers={"X-Custom": "yes"})
    assert answer.status_code == 202, answer.text
    status = await finished(api, answer.json()["executionId"])
    assert status["status"] == "COMPLETED", status
    return status


async def test_flow_variables_and_elasticio_passthrough_in_mappings_and_components(api: httpx.AsyncClient) -> None:
    assert (await api.put("/flows/variables", json=VARIABLES_FLOW)).status_code == 201
    first = await run_variables_flow(api, 12)
    assert record(first, "shape")["input"] == {"region": "eu", "custom": "yes", "total": 12, "stepId": "hook",
                                               "kept": 12}, "the mapping saw variables and whole earlier messages"
    assert first["result"]["outputs"] == [{**record(first, "shape")["input"], "threshold": 10}], "and the component"

    changed = await api.put("/flows/variables/variables", json={"variables": {"region": "us", "threshold": 20}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["changed"]) == (2, True)
    assert changed.json()["flow"]["steps"] == (await api.get("/flows/variables?version=1")).json()["steps"]
    read = (await api.get("/flows/variables/variables")).json()
    assert read == {"id": "variables", "version": 2, "variables": {"region": "us", "threshold": 20}}
    same = await api.put("/flows/variables/variables", json={"variables": {"region": "us", "threshold": 20}})
    assert (same.json()["version"], same.json()["changed"]) == (2, False)

    dropped = await run_variables_flow(api, 12)
    assert dropped["flowVersion"] == 2 and dropped["result"]["totals"]["filtered"] == 1, "12 is no longer > 20"
    passed = await run_variables_flow(api, 25)
    assert passed["result"]["outputs"][0]["region"] == "us" and passed["result"]["outputs"][0]["threshold"] == 20

    blank = await api.put("/flows/variables/variables", json={"variables": {" ": 1}})
    assert blank.status_code == 422 and "needs a name" in blank.text
    missing = await api.put("/flows/nope/variables", json={"variables": {}})
    assert missing.status_code == 404 and "GET /flows lists the flows" in missing.json()["error"]
    removed = await api.put("/flows/variables/variables", json={"variables": {}})
    assert removed.json()["version"] == 3 and removed.json()["flow"].get("variables") is None
