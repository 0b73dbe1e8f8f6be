"""A flow's cap on messages in flight (``max_in_flight``) against a real Temporal dev server and a
real worker: counted from Temporal, so a second API process over the same database sees it too.
Steps run through the process runner."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.settings import ApiSettings
from tests.api_harness import api_client, api_settings, api_with_worker
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

HOOK = {"id": "hook", "component": "webhook", "function": "receive"}
HOLD = {"id": "hold", "component": "code", "function": "run",
        "config": {"code": "import time\ntime.sleep(msg['body']['body'].get('hold', 0))\nreturn {'held': True}"}}


def capped_flow(flow_id: str, cap: int, **extra: Any) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "trigger": HOOK, "steps": [HOLD], "max_in_flight": cap, **extra}


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("in-flight"), "cap")


@pytest.fixture(scope="module")
async def apis(settings: ApiSettings) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two API processes' apps over one database and one worker."""
    async with api_with_worker(settings) as one, api_client(settings, base_url="http://two") as two:
        yield one, two


async def define(http: httpx.AsyncClient, definition: dict[str, Any]) -> None:
    answer = await http.put(f"/flows/{definition['id']}", json=definition)
    assert answer.status_code in (200, 201), answer.text


async def test_an_ordinary_flow_refuses_past_its_cap_in_every_api_process(apis) -> None:
    one, two = apis
    await define(one, capped_flow("capped", 3))
    accepted = await asyncio.gather(*(one.post("/hooks/capped", json={"hold": 4}) for _ in range(3)))
    assert [a.status_code for a in accepted] == [202] * 3
    refused = await one.post("/hooks/capped", json={})
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "1" and "max_in_flight 3" in refused.json()["error"]
    # the other process counts from Temporal: it sees the three runs as soon as visibility shows them
    await until(lambda: _refused(two, "capped"), "the second API process to refuse")
    for answer in accepted:
        await finished(one, answer.json()["executionId"])
    await until(lambda: _taken(two, "capped"), "a message accepted again once the runs ended")


async def test_a_realtime_flow_counts_what_its_workflow_holds(apis) -> None:
    one, _ = apis
    await define(one, capped_flow("capped-rt", 2, type="realtime", concurrency=1))
    assert (await one.post("/flows/capped-rt/start")).status_code == 200
    first = await one.post("/hooks/capped-rt", json={"hold": 3})
    second = await one.post("/hooks/capped-rt", json={"hold": 3})
    assert first.status_code == second.status_code == 202
    refused = await one.post("/hooks/capped-rt", json={})
    assert refused.status_code == 429 and "max_in_flight 2" in refused.json()["error"]

    async def drained() -> bool:
        status = (await one.get("/flows/capped-rt/realtime")).json()
        return status["counters"]["delivered"] == 2

    await until(drained, "both held messages delivered")
    await until(lambda: _taken(one, "capped-rt"), "a message accepted again")


async def _refused(http: httpx.AsyncClient, flow_id: str) -> bool:
    answer = await http.post(f"/hooks/{flow_id}", json={})
    assert answer.status_code in (202, 429), answer.text
    return answer.status_code == 429


async def _taken(http: httpx.AsyncClient, flow_id: str) -> bool:
    return not await _refused(http, flow_id)
