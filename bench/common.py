"""Small helpers the benchmarks share: timing, waiting and side-by-side printing."""

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx


async def timed(function: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 120, what: str = "the condition") -> None:
    """Poll ``condition`` until true; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.perf_counter() + timeout
    while not await condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the benchmark waited more than {timeout:g} s for {what}")
        await asyncio.sleep(0.01)


async def until_running(api: httpx.AsyncClient, flow_id: str, timeout: float = 120) -> None:
    """Until the real-time flow is ``running`` (its warm containers answered); an API that does not
    answer (a worker or Temporal being restarted) is asked again."""
    async def running() -> bool:
        try:
            answer = await api.get(f"/flows/{flow_id}/realtime")
        except httpx.TransportError:
            return False
        return answer.status_code == 200 and answer.json().get("state") == "running"

    await until(running, timeout, f"the real-time flow '{flow_id}' to be running")


def row(label: str, samples: list[float], unit: str = "ms") -> str:
    p95 = percentile(samples, 0.95)
    return f"{label:<58} median {statistics.median(samples):9.3f} {unit}   p95 {p95:9.3f} {unit}   n={len(samples)}"


def side_by_side(title: str, ours: tuple[str, list[float]], floor: tuple[str, list[float]]) -> str:
    ratio = statistics.median(ours[1]) / statistics.median(floor[1])
    return "\n".join([title, "  " + row(ours[0], ours[1]), "  " + row(floor[0] + " (floor)", floor[1]),
                      f"  overhead: {ratio:.2f}x the floor"])
