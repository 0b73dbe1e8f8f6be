"""A window aggregate end to end: webhooks into the API, a worker with the process runner, real
Temporal, the step after the aggregate posting to a loopback server. Messages of separate
executions with the same key go on as one message; another key goes on apart; a worker killed
while a window is open loses none of its messages."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from api.settings import ApiSettings
from catalog.components import load_catalog
from conflux.temporal import connect
from deploy.processes import stop_process
from flows.aggregate_window import collector_id
from tests.api_harness import api_settings, api_with_worker
from tests.flow_helpers import make_flow, run_flow, start_worker_process
from tests.loopback import LoopbackServer
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("window"), "window")


@pytest.fixture(scope="module")
async def http(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(settings, timeout=30) as http:
        yield http


async def test_three_webhooks_with_one_key_and_one_with_another_make_two_messages(http) -> None:
    with LoopbackServer({"/orders": lambda *_: (201, {})}) as server:
        definition = {
            "id": "order-window", "name": "Order window",
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [
                {"id": "join", "component": "aggregate", "function": "aggregate",
                 "config": {"mode": "window", "key": "body.orderId", "window": 3,
                            "expression": "{'order': key, 'lines': [parts.body.line]}"}},
                {"id": "post", "component": "http-request", "function": "request", "network": True,
                 "config": {"url": f"{server.url}/orders", "method": "POST"}},
            ]}
        answer = await http.put("/flows/order-window", json=definition)
        assert answer.status_code in (200, 201), answer.text
        sent = [{"orderId": "A", "line": 1}, {"orderId": "B", "line": 2}, {"orderId": "A", "line": 3},
                {"orderId": "A", "line": 4}]
        accepted = [await http.post("/hooks/order-window", json=body) for body in sent]
        assert [answer.status_code for answer in accepted] == [202] * 4, [a.text for a in accepted]
        await until(lambda: len(server.received) == 2, "both windows to post their order")
        posted = {body["order"]: sorted(body["lines"]) for _, _, body in server.received if isinstance(body, dict)}
    assert posted == {"A": [1, 3, 4], "B": [2]}  # in the order they reached the window (the runs race)
    first = await finished(http, accepted[0].json()["executionId"])
    [handed] = [record for record in first["result"]["records"] if record["stepId"] == "join"]
    assert handed["handedTo"].startswith("aggregate:order-window/join/")
    window_run = await finished(http, f"{accepted[0].json()['executionId']}-join")
    assert window_run["status"] == "COMPLETED" and window_run["result"]["totals"]["delivered"] == 1
    assert [record["stepId"] for record in window_run["result"]["records"]] == ["join", "post"]


async def test_a_window_open_when_its_worker_is_killed_goes_on_with_every_message(
        settings: ApiSettings, tmp_path: Path) -> None:
    client = await connect(settings)
    queue = f"window-kill-{uuid.uuid4().hex[:8]}"
    with LoopbackServer({"/orders": lambda *_: (201, {})}) as server:
        flow = make_flow(load_catalog(), [
            {"id": "join", "component": "aggregate", "function": "aggregate",
             "config": {"mode": "window", "key": "body.orderId", "window": 5, "expression": "[parts.body.line]"}},
            {"id": "post", "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{server.url}/orders", "method": "POST"}},
        ], flow_id="window-kill")
        worker = start_worker_process(settings, queue, tmp_path / "worker1.log", {"CONFLUX_RUNNER": "process"})
        try:
            for line in (1, 2):  # each run ends once it handed its message over
                _, result = await run_flow(client, queue, flow, {"orderId": "A", "line": line})
                assert result.status == "completed" and result.records[-1].handed_to is not None
            window = client.get_workflow_handle(collector_id(flow.id, "join", "A"))
            assert (await window.describe()).status == WorkflowExecutionStatus.RUNNING
            worker.kill()  # the window is open (5 s): its messages and timer are in Temporal only
            worker.wait(30)
            assert not server.received
            worker = start_worker_process(settings, queue, tmp_path / "worker2.log", {"CONFLUX_RUNNER": "process"})
            await until(lambda: server.received, "the window's message to be posted by the second worker", 120)
        finally:
            stop_process(worker)
    [(_, _, posted)] = server.received
    assert isinstance(posted, list) and sorted(posted) == [1, 2]
