"""Soak: a real-time flow under steady load for ``--minutes`` (10): latency per minute, and the memory
of the worker and of each warm container at the start and at the end, against a stated bound.

The flow (webhook -> transform -> http-request POST to a loopback sink, warm Docker containers)
takes ``--rate`` webhooks a second, open loop (each at its planned time, from a few keep-alive
connections). Latency is from a message's 202 to its arrival at the sink. After a warm-up
(``WARM_UP_SECONDS`` of the same load, not counted) the resident memory of the worker process
(``/proc/<pid>/status`` VmRSS) and of each warm container (Docker's stats: usage less inactive file
cache, what the kernel could not simply drop) is read, and again at the end. PASS: every accepted
message delivered, and no memory grew by more than its bound.

Run: ``python -m bench.soak [--minutes M] [--rate R]`` (starts its own Temporal dev server, the API
and a worker as processes; needs Docker).
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx

from bench.common import percentile, until_running
from bench.load import send_paced
from bench.platform import platform_processes
from bench.realtime import flow as realtime_flow
from bench.sink import Sink
from catalog.build import build_all
from deploy.temporal_server import dev_server
from steps.docker_housekeeping import list_containers

FLOW_ID = "soak"
CONNECTIONS = 8
WARM_UP_SECONDS = 20.0
WORKER_BOUND_MB = 64.0  # growth allowed from start to end: caches filling up, not a leak per message
CONTAINER_BOUND_MB = 16.0
DRAIN_SECONDS = 60.0


@dataclass
class Load:
    accepted: dict[int, float] = field(default_factory=dict)  # n -> time.perf_counter() of its 202
    statuses: Counter[int | str] = field(default_factory=Counter)
    late: float = 0.0  # the most a request went out after its planned time, in seconds


async def steady(port: int, rate: float, seconds: float, first_n: int, load: Load) -> None:
    """``rate`` webhooks a second for ``seconds``, request ``i`` planned at ``i / rate``."""
    def answered(n: int, status: int | str, _headers: dict[str, str]) -> None:
        load.statuses[status] += 1
        if status == 202:
            load.accepted[n] = time.perf_counter()

    late = await send_paced(port, f"/hooks/{FLOW_ID}", rate, seconds, first_n, CONNECTIONS, answered)
    load.late = max(load.late, late)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def container_memory(client: docker.DockerClient) -> dict[str, float]:
    """MB per warm container of the flow (its step and replica), usage less inactive file cache."""
    found = {}
    for summary in list_containers(client, labels=[f"conflux.flow={FLOW_ID}"], status="running"):
        container = client.containers.get(summary.id)
        sample = container.stats(stream=False)
        assert isinstance(sample, dict)  # one sample, not a stream
        stats = sample["memory_stats"]
        cache = stats.get("stats", {}).get("inactive_file", 0)
        name = f"{container.labels.get('conflux.step')} #{container.labels.get('conflux.replica')}"
        found[name] = (stats.get("usage", 0) - cache) / (1 << 20)
    return found


@dataclass
class Memory:
    worker: float
    containers: dict[str, float]


def memory(folder: Path, client: docker.DockerClient) -> Memory:
    return Memory(rss_mb(int((folder / "worker.pid").read_text())), container_memory(client))


async def exercise(port: int, url: str, folder: Path, sink: Sink, minutes: int, rate: float) -> bool:
    client = docker.from_env()
    async with httpx.AsyncClient(base_url=url, timeout=60) as api:
        (await api.put(f"/flows/{FLOW_ID}", json=realtime_flow(FLOW_ID, sink.url, middle=1))).raise_for_status()
        (await api.post(f"/flows/{FLOW_ID}/start")).raise_for_status()
        await until_running(api, FLOW_ID)
        await steady(port, rate, WARM_UP_SECONDS, 10_000_000, Load())
        start = memory(folder, client)
        load_average = os.getloadavg()
        began = time.perf_counter()
        loads = []
        for minute in range(minutes):
            loads.append(Load())
            await steady(port, rate, 60.0, minute * 1_000_000, loads[-1])
        took = time.perf_counter() - began
        every = [n for load in loads for n in load.accepted]
        await sink.all_within(every, DRAIN_SECONDS)
        end = memory(folder, client)
        status = (await api.get(f"/flows/{FLOW_ID}/realtime")).json()
        await api.post(f"/flows/{FLOW_ID}/stop")
    return report(loads, sink, start, end, rate, took, load_average, os.getloadavg(), status)


def report(loads: list[Load], sink: Sink, start: Memory, end: Memory, rate: float, took: float,
           load_before: tuple[float, ...], load_after: tuple[float, ...], status: dict[str, Any]) -> bool:
    print(f"Soak: real-time flow '{FLOW_ID}' (webhook -> transform -> http-request POST to a loopback sink, warm "
          f"Docker containers), {rate:g} webhooks/s open loop over {CONNECTIONS} connections, {len(loads)} minute(s) "
          f"after {WARM_UP_SECONDS:g} s of warm-up")
    print(f"  machine load average (1, 5, 15 min): {fmt(load_before)} at the start, {fmt(load_after)} at the end")
    print("  minute   sent  accepted  delivered     p50 ms    p95 ms    p99 ms    max ms   latest send")
    lost = 0
    for minute, load in enumerate(loads, 1):
        latencies = [(sink.arrived[n] - at) * 1000 for n, at in load.accepted.items() if n in sink.arrived]
        delivered = len(latencies)
        lost += len(load.accepted) - delivered
        if not latencies:
            latencies = [float("nan")]
        print(f"  {minute:6} {sum(load.statuses.values()):6} {len(load.accepted):9} {delivered:10} "
              f"{statistics.median(latencies):10.1f} {percentile(latencies, 0.95):9.1f} "
              f"{percentile(latencies, 0.99):9.1f} {max(latencies):9.1f}   {load.late * 1000:7.0f} ms late")
    answers = sum((load.statuses for load in loads), Counter[int | str]())
    print(f"  answers: {dict(answers)}; lost (accepted, never delivered): {lost}; {took:.0f} s of load")
    print(f"  flow counters: {status.get('counters')}, continued as new {status.get('continuedAsNew')} time(s)")
    grew = end.worker - start.worker
    verdicts = [grew <= WORKER_BOUND_MB]
    print("  memory (MB)            start      end   growth   bound")
    print(f"  {'worker process (RSS)':<20} {start.worker:8.1f} {end.worker:8.1f} {grew:+8.1f}   "
          f"+{WORKER_BOUND_MB:g}  {'ok' if grew <= WORKER_BOUND_MB else 'ABOVE'}")
    for name in sorted(set(start.containers) | set(end.containers)):
        before, after = start.containers.get(name), end.containers.get(name)
        if before is None or after is None:
            print(f"  {'container ' + name:<20} {before or 0:8.1f} {after or 0:8.1f}   (replaced meanwhile)")
            continue
        verdicts.append(after - before <= CONTAINER_BOUND_MB)
        print(f"  {'container ' + name:<20} {before:8.1f} {after:8.1f} {after - before:+8.1f}   "
              f"+{CONTAINER_BOUND_MB:g}  {'ok' if after - before <= CONTAINER_BOUND_MB else 'ABOVE'}")
    passed = all(verdicts) and lost == 0 and all(load.accepted for load in loads)
    print(f"result: {'PASS' if passed else 'FAIL'} (0 lost; worker +{WORKER_BOUND_MB:g} MB, each container "
          f"+{CONTAINER_BOUND_MB:g} MB at most)")
    return passed


def fmt(load: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


def main(minutes: int, rate: float) -> int:
    build_all(only=["webhook", "transform", "http-request"], report=None)
    sink = Sink()
    try:
        with dev_server() as address, platform_processes(address) as platform:
            passed = asyncio.run(exercise(platform.port, platform.url, platform.folder, sink, minutes, rate))
    finally:
        sink.stop()
    return 0 if passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second")
    arguments = parser.parse_args()
    sys.exit(main(arguments.minutes, arguments.rate))
