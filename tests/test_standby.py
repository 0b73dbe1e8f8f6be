"""Standby containers: started ahead of need, each used for one run, replaced, and removed with
their worker (real Docker, a real Temporal dev server for the worker process)."""

import asyncio
import json
import os
import signal
import socket
import uuid
from typing import Any

import pytest

from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.processes import stop_process
from steps.docker_housekeeping import ContainerSummary
from steps.pool import WarmPool
from steps.protocol import RequestOutcome
from steps.runner import StepRunner, make_runner
from tests.conftest import PROBE_DIR
from tests.containers import containers_with, gone_or_exited, kill
from tests.flow_helpers import make_flow, run_flow, start_worker_process
from tests.test_runners import probe_spec, request
from tests.waiting import until


def owned_containers(owner: str, *labels: str, running: bool = False) -> list[ContainerSummary]:
    """The step containers of this owner (by default, running or not)."""
    return containers_with(f"conflux.owner={owner}", *labels, running=running)


def standby_of(owner: str) -> list[ContainerSummary]:
    return owned_containers(owner, "conflux.standby=true", running=True)


async def calls_once(pool: WarmPool, spec, standby: int = 2) -> dict[str, Any]:
    [outcome] = await pool.run_fresh(spec, [request("calls", request_id=uuid.uuid4().hex)], 30, origin="f/probe",
                                     standby=standby)
    return body_of(outcome)


def body_of(outcome: RequestOutcome) -> dict[str, Any]:
    assert outcome.error is None, outcome.error
    [data] = outcome.data
    return data.body


async def test_a_flow_using_one_image_in_two_steps_finds_both_ready(catalog_with_probe) -> None:
    """One message of a flow whose two steps run the same image takes two standby containers: the
    set keeps the sum of a flow's steps ready (and the largest flow's, not every flow's), so the
    second step's take does not empty it and start a replacement on the message's path."""
    pool = WarmPool(make_runner("process"), standby=2)
    spec = probe_spec(catalog_with_probe)
    try:
        for origin in ("one/first", "one/second", "two/only"):
            await pool.run_fresh(spec, [request("calls", request_id=uuid.uuid4().hex)], 30, origin=origin, standby=2)
        await until(lambda: pool.standby_idle().get(spec.image) == 4, "the flow's two steps' four containers ready")
        assert pool.standby_full()
    finally:
        await pool.close()


async def test_a_standby_container_serves_exactly_one_run(runner: StepRunner, catalog_with_probe) -> None:
    """The probe counts its calls in memory: every run, each on a container that was ready before
    it was asked, sees a count of 1, on a container of its own."""
    pool = WarmPool(runner, standby=2)
    spec = probe_spec(catalog_with_probe)
    try:
        await calls_once(pool, spec)  # the first run starts its own and asks for standby ones
        seen = set()
        for _ in range(4):
            await until(lambda: pool.standby_idle().get(spec.image) == 2, "two standby containers ready")
            ready = {c.id[:12] for c in standby_of(pool.owner)} if runner.kind == "docker" else set()
            answer = await calls_once(pool, spec)
            assert answer["calls"] == 1, answer
            seen.add((answer["host"], answer["pid"]))
            if runner.kind == "docker":
                assert answer["host"] in ready, "the run did not get a standby container"
        assert len(seen) == 4
    finally:
        await pool.close()
    if runner.kind == "docker":
        await until(lambda: not owned_containers(pool.owner), "every container of the pool removed")


async def test_a_standby_container_that_died_while_idle_is_not_handed_out(docker_engine, probe_image,
                                                                         catalog_with_probe) -> None:
    pool = WarmPool(make_runner("docker"), standby=1)
    spec = probe_spec(catalog_with_probe)
    try:
        await calls_once(pool, spec, standby=1)
        await until(lambda: pool.standby_idle().get(spec.image) == 1, "a standby container ready")
        [idle] = standby_of(pool.owner)
        kill(idle)
        await until(lambda: gone_or_exited(idle) and pool.standby_idle() == {spec.image: 0}, "the pool sees it dead")
        answer = await calls_once(pool, spec, standby=1)
        assert answer["calls"] == 1 and answer["host"] != idle.id[:12]
    finally:
        await pool.close()


async def test_standby_zero_starts_none(docker_engine, probe_image, catalog_with_probe) -> None:
    pool = WarmPool(make_runner("docker"), standby=2)
    spec = probe_spec(catalog_with_probe)
    try:
        for _ in range(2):
            assert (await calls_once(pool, spec, standby=0))["calls"] == 1
        assert pool.standby_idle() == {}
        assert not owned_containers(pool.owner, "conflux.standby=true")  # none started, none left
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def settings(temporal_address, tmp_path_factory) -> PlatformSettings:
    return PlatformSettings(temporal_address=temporal_address, task_queue=f"standby-{uuid.uuid4().hex[:8]}",
                            blob_dir=tmp_path_factory.mktemp("blobs"), runner="docker")


async def test_a_worker_leaves_no_container_behind(settings, component_images, probe_image, catalog_with_probe,
                                                   tmp_path) -> None:
    """Killed with -9, a worker leaves its standby containers; the next worker removes them when it
    starts. Stopped with SIGTERM, a worker removes its own, used ones included."""
    client = await connect(settings)
    flow = make_flow(catalog_with_probe, [{"id": "probe", "component": "probe", "function": "calls"}],
                     flow_id="standby-stop")
    env = {"CONFLUX_STANDBY_CONTAINERS": "2", "CONFLUX_COMPONENT_DIRS": json.dumps([str(PROBE_DIR)])}
    owner = f"{socket.gethostname()}:{{}}"

    first = start_worker_process(settings, settings.task_queue, tmp_path / "worker-1.log", env)
    try:
        _, result = await run_flow(client, settings.task_queue, flow, {"n": 1})
        assert result.status == "completed" and result.outputs[0]["calls"] == 1, result
        await until(lambda: len(standby_of(owner.format(first.pid))) == 2,
                    "the killed worker's standby containers")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert owned_containers(owner.format(first.pid))

    second = start_worker_process(settings, settings.task_queue, tmp_path / "worker-2.log", env)
    try:
        await until(lambda: not owned_containers(owner.format(first.pid)), "the dead worker's containers removed")
        for n in range(2):
            _, result = await run_flow(client, settings.task_queue, flow, {"n": n})
            assert result.outputs[0]["calls"] == 1, result
        await until(lambda: len(standby_of(owner.format(second.pid))) == 2,
                    "the second worker's standby containers")
    finally:
        stop_process(second, timeout=60)
    assert second.returncode == 0
    assert not owned_containers(owner.format(second.pid))


async def test_closing_while_standby_containers_start_leaves_none(docker_engine, probe_image,
                                                                  catalog_with_probe) -> None:
    """The pool closes while its first standby containers are still being created and started."""
    pool = WarmPool(make_runner("docker"), standby=3)
    await calls_once(pool, probe_spec(catalog_with_probe), standby=3)
    await pool.close()
    assert not owned_containers(pool.owner)


async def test_a_cancelled_docker_start_leaves_no_container(docker_engine, probe_image, catalog_with_probe) -> None:
    """Cancelled between Docker's create and the ready handshake: what was started is removed."""
    marker = uuid.uuid4().hex
    spec = probe_spec(catalog_with_probe, labels={"test.marker": marker})
    opening = asyncio.create_task(make_runner("docker").open(spec))
    await until(lambda: containers_with(f"test.marker={marker}"), "the container created")
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    await until(lambda: not containers_with(f"test.marker={marker}"), "the container removed")
