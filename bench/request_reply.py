"""Request-reply beside the 202 path, for both flow types, in one run on the same dev server:

the same 3-step flow (the webhook trigger in the platform, a transform, an http-request posting to
a loopback sink), one message at a time, the two paths alternating, each message sent once the
previous run has ended and the worker's standby containers are back:
- 202 path: the webhook's 202, and the time from sending it until the last step's POST reaches
  the sink (the flow's work done, but nobody told);
- request-reply: the time from sending ``?reply=last`` until the caller has the last step's output
  (the same work, plus the answer's way back: update-with-start for an ordinary flow, an update on
  the long-lived workflow for a real-time one).
The API and the worker run as processes of their own, on Docker containers (ordinary flows use
the worker's standby containers).

Run: ``python -m bench.request_reply [--samples N]`` (starts its own Temporal dev server).
"""

import argparse
import asyncio
import functools
import time
from typing import Any

import docker
import httpx

from bench.common import until
from bench.platform import platform_processes
from bench.realtime import line, start
from bench.sink import Sink
from catalog.build import build_all
from deploy.temporal_server import dev_server
from steps.docker_housekeeping import list_containers

SINK_GIVE_UP_SECONDS = 60
STANDBY_CONTAINERS = 2 * 2  # the worker's default 2 for each of the two step images


def flow(flow_id: str, kind: str, sink_url: str) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "type": kind, "concurrency": 10,
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "shape", "component": "transform", "function": "transform",
                       "config": {"expression": "{'n': body.n}"}},
                      {"id": "deliver", "component": "http-request", "function": "request", "network": True,
                       "config": {"url": f"{sink_url}/sink", "method": "POST"}}]}


async def accepted(api: httpx.AsyncClient, sink: Sink, flow_id: str, n: int) -> tuple[float, float]:
    """(send -> 202, send -> the last step's POST at the sink) in ms, once the run has ended."""
    sent = time.perf_counter()
    answer = await api.post(f"/hooks/{flow_id}", json={"n": n})
    answered = (time.perf_counter() - sent) * 1000
    assert answer.status_code == 202, answer.text
    give_up = sent + SINK_GIVE_UP_SECONDS
    while n not in sink.arrived:
        if time.perf_counter() > give_up:
            raise TimeoutError(f"message {n} of {flow_id} never reached the sink")
        await asyncio.sleep(0.0002)
    done = (sink.arrived[n] - sent) * 1000
    await run_ended(api, flow_id, answer.json()["executionId"])
    return answered, done


async def run_ended(api: httpx.AsyncClient, flow_id: str, execution_id: str) -> None:
    """The run has finished all its work (a reply waits for that; the next sample must not share
    the machine with it)."""
    if flow_id.endswith("realtime"):
        async def idle() -> bool:
            status = (await api.get(f"/flows/{flow_id}/realtime")).json()
            return status["waiting"] == 0 and status["inFlight"] == 0
        await until(idle)
        return

    async def closed() -> bool:
        return (await api.get(f"/executions/{execution_id}")).json()["status"] == "COMPLETED"
    await until(closed)
    await until(standby_refilled)


@functools.cache
def _docker() -> docker.DockerClient:
    return docker.from_env()


async def standby_refilled() -> bool:
    """Every step image has its standby containers again (2 each, the worker's default), so no
    sample pays for the refill the one before it started."""
    running = list_containers(_docker(), labels=["conflux.standby=true"], status="running")
    return len(running) >= STANDBY_CONTAINERS


async def replied(api: httpx.AsyncClient, flow_id: str, n: int) -> float:
    """Send ``?reply=last`` -> the last step's output in hand, ms."""
    sent = time.perf_counter()
    answer = await api.post(f"/hooks/{flow_id}?reply=last", json={"n": n})
    took = (time.perf_counter() - sent) * 1000
    assert answer.status_code == 200, answer.text
    return took


async def measure(api: httpx.AsyncClient, sink: Sink, flow_id: str, base: int,
                  samples: int) -> dict[str, list[float]]:
    """The two paths alternate, message by message, each after the previous run ended: whatever
    drifts on the machine drifts for both."""
    figures: dict[str, list[float]] = {"answered": [], "done": [], "replied": []}
    for n in range(base, base + 10 + samples):  # the first 10 of each warm caches and containers
        answered, done = await accepted(api, sink, flow_id, n)
        took = await replied(api, flow_id, base + 100_000 + n)
        if n >= base + 10:
            figures["answered"].append(answered)
            figures["done"].append(done)
            figures["replied"].append(took)
    return figures


async def main(samples: int) -> None:
    build_all(report=None)
    sink = Sink()
    try:
        with dev_server() as address, platform_processes(address) as platform:
            async with httpx.AsyncClient(base_url=platform.url, timeout=120) as api:
                (await api.put("/flows/rr-ordinary", json=flow("rr-ordinary", "ordinary", sink.url))).raise_for_status()
                ordinary = await measure(api, sink, "rr-ordinary", 0, samples)
                await start(api, flow("rr-realtime", "realtime", sink.url))
                realtime = await measure(api, sink, "rr-realtime", 1_000_000, samples)
                await api.post("/flows/rr-realtime/stop")

                async def stopped() -> bool:
                    return (await api.get("/flows/rr-realtime/realtime")).json()["state"] == "stopped"

                await until(stopped)
    finally:
        sink.stop()
    print("Request-reply beside the 202 path (3 steps: webhook in the platform, transform, http-request to a "
          "loopback sink; serial; one run, same dev server)")
    for kind, figures in (("ordinary (Docker, standby containers)", ordinary),
                          ("real-time (warm Docker containers)", realtime)):
        print(f"{kind}")
        print(line("request-reply: send -> last step's output in hand", figures["replied"]))
        print(line("202 path: send -> last step's POST at the sink (floor)", figures["done"]))
        print(line("202 path: send -> 202", figures["answered"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=50)
    asyncio.run(main(parser.parse_args().samples))
