"""A window aggregate end to end: webhooks into the API, a worker with the process runner, real
Temporal, the step after the aggregate posting to a loopback server. Messages of separate
executions with the same key go on as one message; another key goes on apart."""

from collections.abc import AsyncIterator

import httpx
import pytest

from api.settings import ApiSettings
from tests.api_harness import api_settings, api_with_worker
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
