"""Request-reply beside the 202 path, for both flow types, in one run on the same dev server:

the same 3-step flow (the webhook trigger in the platform, a transform, an http-request posting to
a loopback sink), one message at a time:
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
import time
from typing import Any

import httpx

from bench.platform import platform_processes
from bench.realtime import line, start, until
from bench.sink import Sink
from catalog.build import build_all
from deploy.temporal_server import dev_server

SINK_GIVE_UP_SECONDS = 60


def flow(flow_id: str, kind: str, sink_url: str) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "type": kind, "concurrency": 10,
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "shape", "component": "transform", "function": "transform",
                       "config": {"expression": "{'n': body.n}"}},
                      {"id": "deliver", "component": "http-request", "function": "request", "network": True,
                       "config": {"url": f"{sink_url}/sink", "method": "POST"}}]}


async def accepted_path(api: httpx.AsyncClient, sink: Sink, flow_id: str, numbers: range) -> tuple[list[float],
                                                                                                  list[float]]:
    """(send -> 202, send -> the last step's POST at the sink), ms."""
    answered, done = [], []
    for n in numbers:
        sent = time.perf_counter()
        answer = await api.post(f"/hooks/{flow_id}", json={"n": n})
        answered.append((time.perf_counter() - sent) * 1000)
        assert answer.status_code == 202, answer.text
        give_up = sent + SINK_GIVE_UP_SECONDS
        while n not in sink.arrived:
            if time.perf_counter() > give_up:
                raise TimeoutError(f"message {n} of {flow_id} never reached the sink")
            await asyncio.sleep(0.0002)
        done.append((sink.arrived[n] - sent) * 1000)
    return answered, done


async def reply_path(api: httpx.AsyncClient, flow_id: str, numbers: range) -> list[float]:
    """Send ``?reply=last`` -> the last step's output in hand, ms."""
    samples = []
    for n in numbers:
        sent = time.perf_counter()
        answer = await api.post(f"/hooks/{flow_id}?reply=last", json={"n": n})
        samples.append((time.perf_counter() - sent) * 1000)
        assert answer.status_code == 200, answer.text
    return samples


async def measure(api: httpx.AsyncClient, sink: Sink, flow_id: str, base: int,
                  samples: int) -> dict[str, list[float]]:
    await accepted_path(api, sink, flow_id, range(base, base + 10))  # warm caches and containers
    await reply_path(api, flow_id, range(base + 10, base + 20))
    answered, done = await accepted_path(api, sink, flow_id, range(base + 100, base + 100 + samples))
    replied = await reply_path(api, flow_id, range(base + 10_000, base + 10_000 + samples))
    return {"answered": answered, "done": done, "replied": replied}


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
