"""Liveness for Temporal while an activity works: a dead worker is noticed within the activity's
heartbeat timeout, not its start-to-close timeout."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import activity

HEARTBEAT_EVERY = 5.0
HEARTBEAT_TIMEOUT = timedelta(seconds=4 * HEARTBEAT_EVERY)  # what workflows set: four beats missed


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Beats every HEARTBEAT_EVERY while the block runs. The first only after that long: each beat
    is a write on the server, and most steps end before it."""
    beating = asyncio.create_task(_beat_forever())
    try:
        yield
    finally:
        beating.cancel()


async def _beat_forever() -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)
        activity.heartbeat()
