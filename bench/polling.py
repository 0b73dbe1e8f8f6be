"""Records per second through a 2-step polling flow (poll-http -> transform, Docker runner),
beside the raw fan-out of the same number of no-op activities, measured in the same run.

Run: ``python -m bench.polling [--records N] [--concurrency C]`` (starts its own Temporal dev
server and a loopback record source; needs Docker).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.worker import Worker

from bench.raw_temporal import RawFanOut, noop
from catalog.build import build_all
from catalog.components import load_catalog
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.temporal_server import dev_server
from flows.validation import parse_flow
from steps.runner import make_runner
from tests.loopback import LoopbackServer
from worker.main import running_worker
from workflows.models import PollingInput
from workflows.polling_flow import PollingFlowWorkflow


def records(count: int) -> list[dict]:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [{"id": i, "updated_at": stamp, "value": i * 3} for i in range(1, count + 1)]


async def polling_rate(settings: PlatformSettings, count: int, concurrency: int) -> float:
    catalog = load_catalog()
    client = await connect(settings)
    data = records(count)
    with LoopbackServer({"/records": lambda *_: (200, data)}) as source:
        flow = parse_flow({
            "id": "bench-poll", "name": "Bench: polling", "concurrency": concurrency,
            "trigger": {"id": "poll", "component": "poll-http", "function": "poll", "type": "polling",
                        "interval": 3600, "network": True, "config": {"url": f"{source.url}/records"}},
            "steps": [{"id": "shape", "component": "transform", "function": "transform",
                       "config": {"expression": "{'id': id, 'double': value * 2}"}}],
        }, catalog)
        async with running_worker(client, settings, make_runner("docker"), catalog):
            started = time.perf_counter()
            handle = await client.start_workflow(
                PollingFlowWorkflow.run, PollingInput(flow=flow),
                id=f"poll:bench-{uuid.uuid4().hex[:6]}", task_queue=settings.task_queue)
            while True:
                status = await handle.query(PollingFlowWorkflow.status)
                if status.polls >= 1 and not status.polling_now:
                    break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            await handle.terminate("benchmark done")
    assert status.last_poll and status.last_poll.totals.delivered == count, status
    return count / elapsed


async def raw_rate(settings: PlatformSettings, count: int) -> float:
    client = await connect(settings)
    queue = f"bench-raw-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[RawFanOut], activities=[noop],
                      max_concurrent_activities=settings.max_concurrent_activities):
        started = time.perf_counter()
        done = await client.execute_workflow(RawFanOut.run, count, id=f"raw-{uuid.uuid4()}", task_queue=queue)
        elapsed = time.perf_counter() - started
    assert done == count
    return count / elapsed


async def main(count: int, concurrency: int) -> None:
    build_all(only=["poll-http", "transform"], report=None)
    with dev_server() as address, tempfile.TemporaryDirectory() as state:
        settings = PlatformSettings(temporal_address=address, task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                                    blob_dir=Path(state) / "blobs")
        ours = await polling_rate(settings, count, concurrency)
        raw = await raw_rate(settings, count)
    print(f"{count} records in one poll, concurrency cap {concurrency}")
    print(f"  {'2-step polling flow (poll-http -> transform), Docker runner':<62} {ours:9.1f} records/s")
    print(f"  {'raw fan-out of as many no-op activities (floor)':<62} {raw:9.1f} activities/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.records, arguments.concurrency))
