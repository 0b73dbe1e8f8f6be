"""Waiting on conditions, not sleeps: the one polling loop the integration tests share."""

import asyncio
from typing import Any

import httpx

DEADLINE = 90.0


async def until(condition: Any, what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``condition`` (sync or async) until it returns something truthy; that value."""
    end = asyncio.get_running_loop().time() + deadline
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < end, f"timed out after {deadline:g}s waiting for {what}"
        await asyncio.sleep(0.05)


async def finished(http: httpx.AsyncClient, execution_id: str, deadline: float = 120) -> dict[str, Any]:
    """The execution's status once it has ended (QUEUED in the flow's intake and RUNNING are waited out)."""

    async def ended() -> dict[str, Any] | None:
        answer = await http.get(f"/executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        status = answer.json()
        return None if status["status"] in ("QUEUED", "RUNNING") else status

    return await until(ended, f"execution {execution_id} to end", deadline)
