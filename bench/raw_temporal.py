"""The raw-Temporal floors the benchmarks compare against: no containers, no Conflux.

In a module of their own: the workflow sandbox re-imports a workflow's module, which must not be
a script run as ``__main__``.
"""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(name="BenchThreeNoops")
class ThreeNoops:
    """Three no-op activities one after another: a 3-step flow without the steps."""

    @workflow.run
    async def run(self, value: int) -> int:
        for _ in range(3):
            value = await workflow.execute_activity(noop, value, start_to_close_timeout=timedelta(seconds=30))
        return value


@workflow.defn(name="BenchRawFanOut")
class RawFanOut:
    """As many no-op activities as there are records, up to 1,000 pending at once (Temporal allows
    2,000 pending activities per workflow)."""

    @workflow.run
    async def run(self, count: int) -> int:
        pending = asyncio.Semaphore(1000)

        async def one(value: int) -> int:
            async with pending:
                return await workflow.execute_activity(noop, value, start_to_close_timeout=timedelta(seconds=60))

        return len(await asyncio.gather(*(one(i) for i in range(count))))
