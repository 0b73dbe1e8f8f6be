"""Small helpers the benchmarks share: timing and side-by-side printing."""

import statistics
import time
from collections.abc import Awaitable, Callable


async def timed(function: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(label: str, samples: list[float], unit: str = "ms") -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{label:<58} median {statistics.median(samples):9.3f} {unit}   p95 {p95:9.3f} {unit}   n={len(samples)}"


def side_by_side(title: str, ours: tuple[str, list[float]], floor: tuple[str, list[float]]) -> str:
    ratio = statistics.median(ours[1]) / statistics.median(floor[1])
    return "\n".join([title, "  " + row(ours[0], ours[1]), "  " + row(floor[0] + " (floor)", floor[1]),
                      f"  overhead: {ratio:.2f}x the floor"])
