"""Real-time flows beside their floors, in one run, on warm Docker containers:

(a) serial latency, webhook 202 -> the last step's POST arriving at a loopback sink, 3 steps;
(b) the same with 6 steps: the cost of each extra step;
(c) sustained throughput of HTTP webhooks from 50 concurrent senders (the API and the worker run as
    processes of their own, ``python -m api`` and ``python -m worker``);
(d) warm-up to ``running``, and the longest wait of a message while a new version is published;
floors: one JSON line through a chain of 3 warm pipe processes; raw Temporal signal -> one no-op
local activity (same dev server settings).

Run: ``python -m bench.realtime [--samples N] [--seconds S]`` (starts its own Temporal dev server).
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
from temporalio.worker import Worker

from api.settings import ApiSettings
from bench.common import until_running
from bench.load import LoadResult, send_for
from bench.platform import platform_processes
from bench.raw_temporal import MARKS, SignalLocalActivity, mark
from bench.sink import Sink
from catalog.build import build_all
from conflux.temporal import connect
from deploy.temporal_server import dev_server

SENDERS = 50
ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line); sys.stdout.flush()"


def flow(flow_id: str, sink_url: str, middle: int, tag: int = 1) -> dict[str, Any]:
    steps: list[dict[str, Any]]
    steps = [{"id": f"t{i}", "component": "transform", "function": "transform",
              "config": {"expression": f"{{'n': {'body.n' if i == 0 else 'n'}, 'tag': {tag}}}"}}
             for i in range(middle)]
    steps.append({"id": "deliver", "component": "http-request", "function": "request", "network": True,
                  "config": {"url": f"{sink_url}/sink", "method": "POST"}})
    return {"id": flow_id, "name": flow_id, "type": "realtime", "concurrency": 10,
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"}, "steps": steps}


async def start(api: httpx.AsyncClient, definition: dict[str, Any]) -> float:
    """Define and start; milliseconds until ``running``."""
    (await api.put(f"/flows/{definition['id']}", json=definition)).raise_for_status()
    started = time.perf_counter()
    (await api.post(f"/flows/{definition['id']}/start")).raise_for_status()
    await until_running(api, definition["id"])
    return (time.perf_counter() - started) * 1000


async def serial(api: httpx.AsyncClient, sink: Sink, flow_id: str, numbers: range) -> list[float]:
    """One message at a time: 202 -> arrival at the sink, in ms."""
    samples = []
    for n in numbers:
        answer = await api.post(f"/hooks/{flow_id}", json={"n": n})
        accepted = time.perf_counter()
        answer.raise_for_status()
        give_up = accepted + 60
        while n not in sink.arrived:
            if time.perf_counter() > give_up:
                raise TimeoutError(f"message {n} of {flow_id} never reached the sink")
            await asyncio.sleep(0.0002)
        samples.append((sink.arrived[n] - accepted) * 1000)
    return samples


async def throughput(port: int, sink: Sink, flow_id: str, seconds: float, base: int) -> tuple[LoadResult, int, float]:
    """50 senders for ``seconds``; (what they were answered, how many were delivered, seconds
    taken until the last was delivered)."""
    began = time.perf_counter()
    load = await send_for(port, f"/hooks/{flow_id}", seconds, SENDERS, iter(range(base, base + 10_000_000)))

    await sink.all_within(load.accepted, 120)
    return load, sum(1 for n in load.accepted if n in sink.arrived), time.perf_counter() - began


async def publish_wait(api: httpx.AsyncClient, sink: Sink, definition: dict[str, Any], base: int) -> float:
    """Serial messages while a new version is published; the longest 202 -> arrival, in ms."""
    publishing = asyncio.create_task(api.put(f"/flows/{definition['id']}", json=definition))
    samples = await serial(api, sink, definition["id"], range(base, base + 20))
    (await publishing).raise_for_status()

    async def switched() -> bool:
        status = (await api.get(f"/flows/{definition['id']}/realtime")).json()
        return status["flowVersion"] == 2 and status["publishingVersion"] is None

    while not await switched():
        samples += await serial(api, sink, definition["id"], range(base + len(samples), base + len(samples) + 5))
    return max(samples)


def pipe_floor(samples: int) -> list[float]:
    chain = [subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for _ in range(3)]
    line = json.dumps({"id": "x", "msg": {"body": {"n": 1}}}).encode() + b"\n"
    times = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            data = line
            for process in chain:
                assert process.stdin and process.stdout
                process.stdin.write(data)
                process.stdin.flush()
                data = process.stdout.readline()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        for process in chain:
            process.kill()
            process.wait()
    return times


async def temporal_floor(address: str, samples: int) -> list[float]:
    client = await connect(ApiSettings(temporal_address=address))
    queue = f"bench-floor-{uuid.uuid4().hex[:6]}"
    times = []
    async with Worker(client, task_queue=queue, workflows=[SignalLocalActivity], activities=[mark]):
        handle = await client.start_workflow(SignalLocalActivity.run, id=queue, task_queue=queue)
        for n in range(samples):
            started = time.perf_counter()
            await handle.signal(SignalLocalActivity.value, n)
            while n not in MARKS:
                await asyncio.sleep(0.0002)
            times.append((MARKS[n] - started) * 1000)
        await handle.terminate()
    return times


def pct(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def line(label: str, samples: list[float]) -> str:
    return (f"  {label:<52} p50 {statistics.median(samples):8.2f} ms   p95 {pct(samples, 0.95):8.2f} ms   "
            f"p99 {pct(samples, 0.99):8.2f} ms   n={len(samples)}")


async def main(samples: int, seconds: float) -> None:
    """The API and the worker each in a process of their own, as in production; this process sends."""
    build_all(report=None)
    sink = Sink()
    try:
        with dev_server() as address:
            with platform_processes(address) as platform:
                async with httpx.AsyncClient(base_url=platform.url, timeout=60) as api:
                    warm3 = await start(api, flow("bench-3", sink.url, 1))
                    warm6 = await start(api, flow("bench-6", sink.url, 4))
                    await serial(api, sink, "bench-3", range(0, 20))  # warm caches
                    three = await serial(api, sink, "bench-3", range(100, 100 + samples))
                    await serial(api, sink, "bench-6", range(10_000, 10_020))
                    six = await serial(api, sink, "bench-6", range(10_100, 10_100 + samples))
                    load, delivered, took = await throughput(platform.port, sink, "bench-3", seconds, 1_000_000)
                    worst = await publish_wait(api, sink, flow("bench-3", sink.url, 1, tag=2), 50_000)
                    for flow_id in ("bench-3", "bench-6"):
                        await api.post(f"/flows/{flow_id}/stop")
            pipes = pipe_floor(samples)
            raw = await temporal_floor(address, samples)
    finally:
        sink.stop()  # whatever failed, the sink process ends with the benchmark
    per_step = (statistics.median(six) - statistics.median(three)) / 3
    print("Real-time flows on warm Docker containers (one run, same dev server settings)")
    print("(a) webhook 202 -> last step done, serial")
    print(line("3 steps (webhook in the platform, transform, http-request)", three) + "   target p50 <= 20, p99 <= 50")
    print(line("floor: one line through 3 warm pipe processes", pipes))
    print(line("floor: raw Temporal signal -> 1 no-op local activity", raw))
    print("(b) cost of an extra step")
    print(line("6 steps", six))
    print(f"  per extra step: {per_step:.2f} ms   target <= 2 ms")
    accepted = len(load.accepted)
    print(f"(c) {seconds:g} s of webhooks from {SENDERS} concurrent senders over HTTP")
    print(f"  accepted {accepted}  delivered {delivered}  lost {accepted - delivered}   "
          f"accepted {accepted / seconds:,.0f}/s, delivered {delivered / took:,.0f}/s   target >= 1,000/s, 0 lost")
    print(f"  answers: {dict(load.statuses)}")
    print("(d) warm-up and publish")
    print(f"  warm-up to running: 3 steps {warm3:.0f} ms, 6 steps {warm6:.0f} ms")
    print(f"  longest 202 -> delivered wait during a publish: {worst:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.realtime", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.samples, arguments.seconds))
