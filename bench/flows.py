"""Ordinary flows end to end, beside their floors, in one run:

1. the 3-step flow (webhook -> transform -> code) on the Docker runner, from the webhook's 202 to
   the last step done, vs three bare ``docker run``s of the same images one after another;
2. the same flow on the process runner vs a raw Temporal workflow of three no-op activities;
3. webhook intake: 50 concurrent senders for ``--seconds`` against the API and the worker running as
   processes of their own (the worker on the process runner, so the backlog of runs drains in
   minutes), the accepted count beside the runs completed.

Run: ``python -m bench.flows [--repeat N] [--seconds S]`` (starts its own Temporal dev server; needs Docker).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from temporalio.worker import Worker

from api.app import create_app
from api.settings import ApiSettings
from bench.common import row
from bench.load import LoadResult, send_for
from bench.platform import platform_processes
from bench.raw_temporal import ThreeNoops, noop
from bench.step_runners import bare_docker_run
from catalog.build import build_all
from catalog.components import load_catalog
from conflux.temporal import connect
from deploy.temporal_server import dev_server
from steps.runner import RunnerKind, make_runner
from worker.main import build_worker
from workflows.models import FlowRunResult

SENDERS = 50
FLOW = {
    "id": "bench-three",
    "name": "Bench: three steps",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [
        {"id": "shape", "component": "transform", "function": "transform", "config": {"expression": "{'n': body.n}"}},
        {"id": "double", "component": "code", "function": "run",
         "config": {"code": "return {'n': msg['body']['n'] * 2}"}},
    ],
}


async def flow_latency(settings: ApiSettings, runner_kind: RunnerKind, repeat: int) -> list[float]:
    """Milliseconds from posting the webhook to the run's result."""
    client = await connect(settings)
    catalog = load_catalog()
    app = create_app(settings, client)
    samples = []
    async with build_worker(client, settings, make_runner(runner_kind), catalog):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            (await api.put(f"/flows/{FLOW['id']}", json=FLOW)).raise_for_status()
            for index in range(repeat + 1):
                started = time.perf_counter()
                answer = await api.post(f"/hooks/{FLOW['id']}", json={"n": index})
                assert answer.status_code == 202, answer.text
                handle = client.get_workflow_handle(answer.json()["workflowId"], result_type=FlowRunResult)
                result = await handle.result()
                assert result.outputs == [{"n": index * 2}], result
                if index:  # the first run warms caches
                    samples.append((time.perf_counter() - started) * 1000)
    return samples


async def raw_temporal(settings: ApiSettings, repeat: int) -> list[float]:
    client = await connect(settings)
    queue = f"bench-raw-{uuid.uuid4().hex[:6]}"
    samples = []
    async with Worker(client, task_queue=queue, workflows=[ThreeNoops], activities=[noop]):
        for index in range(repeat + 1):
            started = time.perf_counter()
            await client.execute_workflow(ThreeNoops.run, index, id=f"raw-{uuid.uuid4()}", task_queue=queue)
            if index:
                samples.append((time.perf_counter() - started) * 1000)
    return samples


async def three_docker_runs(images: list[str], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for image in images:
            await bare_docker_run(image)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def intake(address: str, seconds: float) -> tuple[LoadResult, int, float]:
    """(what the senders were answered, runs completed, seconds from the first request to the last run done)."""
    client = await connect(ApiSettings(temporal_address=address))
    with platform_processes(address, runner="process") as platform:
        async with httpx.AsyncClient(base_url=platform.url) as api:
            (await api.put(f"/flows/{FLOW['id']}", json=FLOW)).raise_for_status()
        done_query = f"FlowId = '{FLOW['id']}' AND ExecutionStatus = 'Completed'"
        before = (await client.count_workflows(done_query)).count  # the latency runs of the same flow
        began = time.perf_counter()
        load = await send_for(platform.port, f"/hooks/{FLOW['id']}", seconds, SENDERS, iter(range(10**9)))
        give_up = time.perf_counter() + 900
        completed = 0
        while completed < len(load.accepted) and time.perf_counter() < give_up:
            await asyncio.sleep(1)
            completed = (await client.count_workflows(done_query)).count - before
        return load, completed, time.perf_counter() - began


async def main(repeat: int, seconds: float) -> None:
    build_all(only=["webhook", "transform", "code"], report=None)
    catalog = load_catalog()
    with dev_server() as address, tempfile.TemporaryDirectory() as state:
        settings = ApiSettings(temporal_address=address, task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                               db_path=Path(state) / "conflux.db", blob_dir=Path(state) / "blobs")
        docker = await flow_latency(settings, "docker", repeat)
        floor = await three_docker_runs([catalog["transform"].image] * 3, repeat)
        process = await flow_latency(settings.model_copy(update={"task_queue": settings.task_queue + "-p"}),
                                     "process", repeat)
        raw = await raw_temporal(settings, repeat)
        load, completed, took = await intake(address, seconds)
    print("3-step flow, webhook accepted -> last step done")
    print("  " + row("Docker runner, one container per step", docker))
    print("  " + row("three bare docker runs in a row (floor)", floor))
    print("  " + row("process runner, one process per step", process))
    print("  " + row("raw Temporal workflow, three no-op activities (floor)", raw))
    accepted = len(load.accepted)
    print(f"webhook intake, {seconds:g} s from {SENDERS} concurrent senders, worker running")
    print(f"  accepted {accepted} ({accepted / seconds:,.0f}/s)   runs completed {completed} in {took:.0f} s   "
          f"answers {dict(load.statuses)}   target >= 500/s, every accepted message run")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.seconds))
