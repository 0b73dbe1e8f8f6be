"""Ordinary flows end to end, beside their floors, in one run:

1. a flow of a webhook trigger (run by the platform) and three container steps (transform -> code
   -> transform) on the Docker runner, with standby containers (each message arriving when they
   are ready again): from the webhook's 202 to the run's close in Temporal after its last step (the
   issue's "accepted -> last step done"), and from posting the webhook to the caller holding the
   run's result; without standby, the latter; beside three bare
   ``docker run``s of the same images (sampled in turn with the messages without standby) and raw
   Temporal running three no-op activities (the same server settings; in turn with the standby
   flow's messages), so a floor and its flow see the same load on this shared machine; and three
   round trips through warm containers;
2. the same flow on the process runner (standby processes);
3. webhook intake: 50 concurrent senders for ``--seconds`` against the API and the worker running as
   processes of their own (the worker on the process runner), the accepted count beside the runs
   completed (a flood goes through the flow's intake workflow; its runs drain at the pace of one
   fresh process per step, ≈ 4–5 runs/s on 2 cores, so this waits minutes for the last one).

Run: ``python -m bench.flows [--repeat N] [--seconds S]`` (starts its own Temporal dev server on the
file store, as the embedded default does; needs Docker).
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from api.app import create_app
from api.settings import ApiSettings
from bench.common import row
from bench.load import LoadResult, send_for
from bench.platform import platform_processes
from bench.raw_temporal import ThreeNoops, noop
from bench.step_runners import REQUEST, bare_docker_run
from catalog.build import build_all
from catalog.components import load_catalog
from conflux.temporal import connect
from deploy.temporal_server import dev_server
from steps.pool import WarmPool
from steps.runner import RunnerKind, make_runner
from steps.spec import ContainerSpec
from worker.main import build_worker, container_pool
from workflows.models import FlowRunResult

SENDERS = 50
STANDBY = 2
FLOW: dict[str, Any] = {
    "id": "bench-three",
    "name": "Bench: three steps",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [
        {"id": "shape", "component": "transform", "function": "transform", "config": {"expression": "{'n': body.n}"}},
        {"id": "double", "component": "code", "function": "run",
         "config": {"code": "return {'n': msg['body']['n'] * 2}"}},
        {"id": "tag", "component": "transform", "function": "transform",
         "config": {"expression": "{'n': n, 'tagged': true}"}},
    ],
}
STEP_COMPONENTS = [step["component"] for step in FLOW["steps"]]


async def flow_latency(settings: ApiSettings, runner_kind: RunnerKind, repeat: int, standby: int, *,
                       encrypted: bool = True, padding: int = 0,
                       in_turn: Callable[[int], Awaitable[float]] | None = None,
                       closed: list[float] | None = None) -> list[float]:
    """Milliseconds from posting the webhook to the run's result; with ``standby``, each message
    is sent once the standby containers are ready again (a flow's messages some time apart).
    ``encrypted=False`` leaves out the payload codec, ``padding`` adds that many bytes to each body;
    ``in_turn`` (a floor's one sample) runs just before each message, with the pool settled;
    ``closed`` gets the milliseconds from the 202 to the run's close in Temporal (after its last
    step), the issue's "webhook accepted -> last step done"."""
    settings = settings.model_copy(update={"standby_containers": standby,
                                           "task_queue": f"{settings.task_queue}-{runner_kind}-{standby}-{encrypted}"})
    client = await connect(settings, encrypted=encrypted)
    app = create_app(settings, client)
    pool = container_pool(settings, make_runner(runner_kind))
    samples = []
    try:
        async with build_worker(client, settings, pool, load_catalog()):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
                (await api.put(f"/flows/{FLOW['id']}", json=FLOW)).raise_for_status()
                for index in range(repeat + 1):
                    await standby_ready(pool)
                    if in_turn is not None:
                        await in_turn(index)
                    started = time.perf_counter()
                    answer = await api.post(f"/hooks/{FLOW['id']}", json=body(index, padding))
                    accepted_at = time.time()
                    assert answer.status_code == 202, answer.text
                    handle = client.get_workflow_handle(answer.json()["workflowId"], result_type=FlowRunResult)
                    result = await handle.result()
                    assert result.outputs == [{"n": index * 2, "tagged": True}], result
                    if index:  # the first run warms caches (and starts the standby containers)
                        samples.append((time.perf_counter() - started) * 1000)
                        if closed is not None:
                            closed.append(await closed_after(handle, accepted_at))
    finally:
        await pool.close()
    return samples


def body(index: int, padding: int) -> dict[str, Any]:
    return {"n": index, "pad": "p" * padding} if padding else {"n": index}


async def standby_ready(pool: WarmPool) -> None:
    """Until every image in use has the standby containers it wants ready and the used ones are
    gone (at most 30 s)."""
    give_up = time.perf_counter() + 30
    while not pool.settled() and time.perf_counter() < give_up:
        await asyncio.sleep(0.02)


async def closed_after(handle: WorkflowHandle[Any, Any], accepted_at: float) -> float:
    """Milliseconds from ``accepted_at`` (wall clock) to the run's close time in Temporal (the
    server runs on this machine: one clock)."""
    close_time = (await handle.describe()).close_time
    assert close_time is not None
    return (close_time.timestamp() - accepted_at) * 1000


@asynccontextmanager
async def raw_temporal(settings: ApiSettings, samples: list[float],
                       closed: list[float] | None = None) -> AsyncIterator[Callable[[int], Awaitable[float]]]:
    """A worker for three no-op activities; what it yields runs one workflow and adds its
    milliseconds to ``samples`` (but for the first, which warms caches): from the start call to
    the result, and to ``closed`` from the start's answer to the close."""
    client = await connect(settings)
    queue = f"bench-raw-{uuid.uuid4().hex[:6]}"

    async def one(index: int) -> float:
        started = time.perf_counter()
        handle = await client.start_workflow(ThreeNoops.run, index, id=f"raw-{uuid.uuid4()}", task_queue=queue,
                                             request_eager_start=True)  # as the API starts runs
        accepted_at = time.time()
        await handle.result()
        took = (time.perf_counter() - started) * 1000
        if index:
            samples.append(took)
            if closed is not None:
                closed.append(await closed_after(handle, accepted_at))
        return took

    async with Worker(client, task_queue=queue, workflows=[ThreeNoops], activities=[noop]):
        yield one


async def three_warm_round_trips(images: list[str], repeat: int) -> list[float]:
    """One request through each of three already running containers, one after another."""
    runner = make_runner("docker")
    sessions = [await runner.open(ContainerSpec(image=image)) for image in images]
    try:
        samples = []
        for index in range(repeat + 1):
            started = time.perf_counter()
            for session in sessions:
                await session.call([REQUEST.model_copy(update={"id": f"r{index}"})], 10)
            if index:
                samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await asyncio.gather(*(session.finish() for session in sessions))


def three_docker_runs(images: list[str], niceness: int, samples: list[float]) -> Callable[[int], Awaitable[float]]:
    """One sample: a bare ``docker run`` of each image in a row (the first one only warms caches),
    weighed on the CPU as the runner's containers (``niceness``)."""
    async def one(index: int) -> float:
        started = time.perf_counter()
        for image in images:
            await bare_docker_run(image, niceness)
        took = (time.perf_counter() - started) * 1000
        if index:
            samples.append(took)
        return took

    return one


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
        give_up = time.perf_counter() + 1800
        completed = 0
        while completed < len(load.accepted) and time.perf_counter() < give_up:
            await asyncio.sleep(1)
            completed = (await client.count_workflows(done_query)).count - before
        return load, completed, time.perf_counter() - began


async def main(repeat: int, seconds: float) -> None:
    build_all(only=["webhook", *STEP_COMPONENTS], report=None)
    catalog = load_catalog()
    images = [catalog[name].image for name in STEP_COMPONENTS]
    with tempfile.TemporaryDirectory() as state, dev_server(db_file=Path(state) / "temporal.db") as address:
        settings = ApiSettings(temporal_address=address, task_queue=f"bench-{uuid.uuid4().hex[:6]}",
                               db_path=Path(state) / "conflux.db", blob_dir=Path(state) / "blobs",
                               api_auth=False)  # benchmarks measure flows, not tokens
        raw: list[float] = []
        raw_closed: list[float] = []
        standby_closed: list[float] = []
        async with raw_temporal(settings, raw, raw_closed) as raw_run:
            standby = await flow_latency(settings, "docker", repeat, STANDBY, in_turn=raw_run, closed=standby_closed)
        docker_runs: list[float] = []
        docker_floor = three_docker_runs(images, make_runner("docker").niceness, docker_runs)
        cold = await flow_latency(settings, "docker", repeat, 0, in_turn=docker_floor)
        warm = await three_warm_round_trips([catalog["transform"].image] * 3, repeat)
        process = await flow_latency(settings, "process", repeat, STANDBY)
        load, completed, took = await intake(address, seconds)
    print("webhook trigger + 3 container steps, webhook accepted (202) -> run closed after its last step")
    print("  " + row(f"Docker, {STANDBY} standby containers per image", standby_closed))
    print("  " + row("raw Temporal, three no-op activities (floor, in turn)", raw_closed))
    print(f"    target: p50 <= 100 ms and <= 1.5x the raw-Temporal floor: {median(standby_closed):.1f} ms, "
          f"{median(standby_closed) / median(raw_closed):.2f}x")
    print("  the same from posting the webhook (or calling start) to the caller holding the run's result:")
    print("  " + row(f"Docker, {STANDBY} standby containers per image", standby))
    print("  " + row("raw Temporal, three no-op activities (floor, in turn)", raw))
    print(f"    {median(standby) / median(raw):.2f}x")
    print("  " + row("three round trips through warm containers (floor)", warm))
    print("webhook trigger + 3 container steps, posting the webhook -> the run's result")
    print("  " + row("Docker, no standby (a container started per step)", cold))
    print("  " + row("three bare docker runs in a row (floor, in turn)", docker_runs))
    print(f"    target: <= 1.05x the docker-run floor: {median(cold) / median(docker_runs):.2f}x")
    print("  " + row(f"process runner, {STANDBY} standby processes per component", process))
    accepted = len(load.accepted)
    print(f"webhook intake, {seconds:g} s from {SENDERS} concurrent senders, worker running")
    print(f"  accepted {accepted} ({accepted / seconds:,.0f}/s)   runs completed {completed} in {took:.0f} s "
          f"({completed / took:.1f}/s)   "
          f"answers {dict(load.statuses)}   target >= 500/s, every accepted message run")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.seconds))
