"""Flood: ten times a rate-limited flow's measured capacity in webhooks, and what became of each.

An ordinary webhook flow (transform -> http-request POST to a loopback sink, standby containers)
first runs a calibration: a burst of messages on a copy of the flow without a limit, timed from the
first 202 until the sink has the last one, gives the flow's capacity in messages per second. The
flow under test takes a ``rate_limit`` of that capacity (bursts of one second's worth); then
webhooks go out at ``--factor`` (10) times that rate for ``--seconds``, open loop (each at its
planned time from a pool of keep-alive connections, whatever the answers), each with its own ``n``.
It prints the answers by status, whether every 429 carried Retry-After, and, once the sink has had
time, how many accepted messages were delivered: every 202 must be, and no answer may be a 5xx.
Exit code 0 only then.

Run: ``python -m bench.flood [--seconds S] [--factor F] [--calibration N]`` (starts its own Temporal
dev server, the API and a worker as processes; needs Docker).
"""

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import send_paced
from bench.platform import platform_processes
from bench.sink import Sink
from catalog.build import build_all
from deploy.temporal_server import dev_server

CONNECTIONS = 64
DRAIN_SECONDS = 300.0  # how long the accepted messages may take to reach the sink after the flood


def flow(flow_id: str, sink_url: str, per_second: float | None) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "id": flow_id, "name": f"Bench: flood {flow_id}",
        "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [{"id": "shape", "component": "transform", "function": "transform",
                   "config": {"expression": "{'n': body.n}"}},
                  {"id": "deliver", "component": "http-request", "function": "request", "network": True,
                   "config": {"url": f"{sink_url}/sink", "method": "POST"}}],
    }
    if per_second is not None:
        definition["rate_limit"] = {"per_second": per_second}
    return definition


@dataclass
class Answers:
    statuses: Counter[int | str] = field(default_factory=Counter)  # by status, or exception name
    accepted: list[int] = field(default_factory=list)  # the n of each 202
    without_retry_after: int = 0  # 429s that did not say when to come back
    retry_after: Counter[str] = field(default_factory=Counter)
    late: float = 0.0  # the most a request went out after its planned time, in seconds


async def flood(port: int, flow_id: str, rate: float, seconds: float, first_n: int) -> Answers:
    """``rate`` requests per second for ``seconds``, request ``i`` planned at ``i / rate``."""
    answers = Answers()

    def answered(n: int, status: int | str, headers: dict[str, str]) -> None:
        answers.statuses[status] += 1
        if status == 202:
            answers.accepted.append(n)
        elif status == 429:
            retry_after = headers.get("retry-after")
            answers.retry_after[retry_after or "missing"] += 1
            answers.without_retry_after += retry_after is None

    answers.late = await send_paced(port, f"/hooks/{flow_id}", rate, seconds, first_n, CONNECTIONS, answered)
    return answers


async def calibrate(api: httpx.AsyncClient, sink: Sink, messages: int) -> tuple[float, float]:
    """(capacity in messages per second, seconds the burst took): ``messages`` sent at once to the
    flow without a limit, from the first 202 until the sink had the last; after a few warm-up
    messages, so the standby containers are there."""
    (await api.put("/flows/flood-calibration", json=flow("flood-calibration", sink.url, None))).raise_for_status()
    warm = list(range(10_000_000, 10_000_005))
    for n in warm:
        (await api.post("/hooks/flood-calibration", json={"n": n})).raise_for_status()
    if await sink.all_within(warm, DRAIN_SECONDS) is None:
        raise RuntimeError("the calibration flow's warm-up messages never reached the sink")
    numbers = list(range(20_000_000, 20_000_000 + messages))
    began = time.perf_counter()
    answers = await asyncio.gather(*(api.post("/hooks/flood-calibration", json={"n": n}) for n in numbers))
    if any(answer.status_code != 202 for answer in answers):
        raise RuntimeError(f"the calibration burst was not accepted whole: {Counter(a.status_code for a in answers)}")
    if await sink.all_within(numbers, DRAIN_SECONDS) is None:
        raise RuntimeError("the calibration burst never reached the sink")
    took = max(sink.arrived[n] for n in numbers) - began
    return messages / took, took


async def exercise(port: int, url: str, sink: Sink, seconds: float, factor: float, calibration: int) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=60) as api:
        capacity, calibration_took = await calibrate(api, sink, calibration)
        limit = round(capacity, 1)
        (await api.put("/flows/flood", json=flow("flood", sink.url, limit))).raise_for_status()
    rate = factor * limit
    began = time.perf_counter()
    answers = await flood(port, "flood", rate, seconds, 0)
    flooded = time.perf_counter() - began
    drained = await sink.all_within(answers.accepted, DRAIN_SECONDS)
    delivered = sum(1 for n in answers.accepted if n in sink.arrived)
    server_errors = sum(count for status, count in answers.statuses.items()
                        if isinstance(status, int) and status >= 500)
    offered = sum(answers.statuses.values())
    print("Flood: an ordinary webhook flow (transform -> http-request POST to a loopback sink, standby containers), "
          "Docker runner; the API and a worker as processes")
    print(f"  calibration: {calibration} messages at once on the flow without a limit, delivered in "
          f"{calibration_took:.1f} s: capacity {capacity:.1f} messages/s")
    print(f"  flow 'flood': rate_limit {limit:g}/s (bursts of {max(1, int(limit))})")
    print(f"  flood: {factor:g} x {limit:g}/s = {rate:g} webhooks/s planned for {seconds:g} s over {CONNECTIONS} "
          f"keep-alive connections, open loop: {offered} sent in {flooded:.1f} s ({offered / flooded:.1f}/s; "
          f"the latest went out {answers.late:.2f} s after its planned time)")
    print(f"  answers by status: {dict(sorted(answers.statuses.items(), key=str))}")
    print(f"  429s: {answers.statuses.get(429, 0)}, Retry-After {dict(answers.retry_after)}; "
          f"without it: {answers.without_retry_after}")
    print(f"  5xx: {server_errors}")
    print(f"  accepted (202): {len(answers.accepted)} ({len(answers.accepted) / flooded:.1f}/s, the limit "
          f"{limit:g}/s plus one burst)")
    drain = f"all at the sink {drained:.1f} s after the flood" if drained is not None else \
        f"not all at the sink within {DRAIN_SECONDS:g} s"
    lost = len(answers.accepted) - delivered
    print(f"  delivered: {delivered}   lost (accepted, never delivered): {lost}   ({drain})")
    passed = server_errors == 0 and delivered == len(answers.accepted) and answers.without_retry_after == 0 \
        and answers.statuses.get(429, 0) > 0
    print(f"result: {'PASS' if passed else 'FAIL'} (429s with Retry-After, 0 5xx, every 202 delivered)")
    return passed


def main(seconds: float, factor: float, calibration: int) -> int:
    build_all(only=["webhook", "transform", "http-request"], report=None)
    sink = Sink()
    try:
        with dev_server() as address, platform_processes(address) as platform:
            passed = asyncio.run(exercise(platform.port, platform.url, sink, seconds, factor, calibration))
    finally:
        sink.stop()
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the flood lasts")
    parser.add_argument("--factor", type=float, default=10.0, help="the flood's rate, in multiples of the capacity")
    parser.add_argument("--calibration", type=int, default=40, help="messages in the calibration burst")
    arguments = parser.parse_args()
    sys.exit(main(arguments.seconds, arguments.factor, arguments.calibration))
