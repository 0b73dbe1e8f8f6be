"""A flood on a rate-limited flow, in short (bench/flood.py is the long one): sixty webhooks at once
on a flow that takes two a second are answered 202 or 429 with Retry-After, never a 5xx, and every
one that was accepted runs to its end."""

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api_harness import api_settings, api_with_worker
from tests.waiting import finished

pytestmark = pytest.mark.temporal

FLOODED: dict[str, Any] = {
    "id": "flooded", "name": "Flooded", "rate_limit": {"per_second": 2, "burst": 2},
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "shape", "component": "transform", "function": "transform",
               "config": {"expression": "{'n': body.n}"}}],
}


async def test_a_flood_is_answered_429_with_retry_after_and_every_202_runs(temporal_address: str,
                                                                         tmp_path: Path) -> None:
    async with api_with_worker(api_settings(temporal_address, tmp_path, "flood"), timeout=30) as http:
        assert (await http.put("/flows/flooded", json=FLOODED)).status_code == 201
        began = time.monotonic()
        answers = await asyncio.gather(*(http.post("/hooks/flooded", json={"n": n}) for n in range(60)))
        took = time.monotonic() - began
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {202, 429}, statuses
        accepted = [answer.json()["executionId"] for answer in answers if answer.status_code == 202]
        assert 2 <= len(accepted) <= 2 + 2 * took + 1, (len(accepted), took)  # the burst, then 2 a second
        assert all(int(answer.headers["Retry-After"]) >= 1 for answer in answers if answer.status_code == 429)
        for execution_id in accepted:
            assert (await finished(http, execution_id))["status"] == "COMPLETED"
