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


MARKS: dict[int, float] = {}


@activity.defn(name="bench_mark")
async def mark(value: int) -> int:
    """Notes when a value got through (the floor's 'last step done')."""
    import time

    MARKS[value] = time.perf_counter()
    return value


@workflow.defn(name="BenchSignalLocalActivity")
class SignalLocalActivity:
    """Real-time's shape without the steps: each signal's value through one no-op local activity."""

    def __init__(self) -> None:
        self._values: list[int] = []

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._values))
            values, self._values = self._values, []
            await asyncio.gather(*(workflow.execute_local_activity(
                mark, value, start_to_close_timeout=timedelta(seconds=30)) for value in values))

    @workflow.signal
    def value(self, value: int) -> None:
        self._values.append(value)
