"""Step containers keep a component inside its bounds: each attempt to leave them (tests/components/probe)
ends as a clear step failure, and the same worker runs the next step as if nothing had happened.

Real Temporal, real Docker, the real worker: a flow of one probe step per attempt, then a flow that
must still complete on that worker.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client

from conflux.settings import PlatformSettings
from conflux.temporal import connect
from steps.runner import make_runner
from tests.flow_helpers import make_flow, run_flow
from tests.loopback import LoopbackServer
from worker.main import running_worker
from workflows.models import FlowRunResult

MEMORY_MB = 64


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> PlatformSettings:
    return PlatformSettings(temporal_address=temporal_address, task_queue=f"isolation-{uuid.uuid4().hex[:8]}",
                            blob_dir=tmp_path_factory.mktemp("blobs"), runner="docker", standby_containers=0)


@pytest.fixture(scope="module")
async def client(settings: PlatformSettings) -> Client:
    return await connect(settings)


@pytest.fixture(scope="module")
async def worker(client: Client, settings: PlatformSettings, probe_image: str, catalog_with_probe: dict,
                 component_images: dict) -> AsyncIterator[None]:
    async with running_worker(client, settings, make_runner("docker"), catalog_with_probe):
        yield


async def run_probe(client: Client, settings: PlatformSettings, catalog: dict, function: str, body: Any,
                    **step: Any) -> FlowRunResult:
    flow = make_flow(catalog, [{"id": "probe", "component": "probe", "function": function, "mapping": "body",
                                "retry": {"max_attempts": 1}, **step}], flow_id=f"isolation-{function}")
    _, result = await run_flow(client, settings.task_queue, flow, body)
    return result


async def failure_of(client: Client, settings: PlatformSettings, catalog: dict, function: str, body: Any,
                     **step: Any) -> str:
    """The step's error, after checking that the worker still runs a step that works."""
    result = await run_probe(client, settings, catalog, function, body, **step)
    assert result.status == "failed" and result.totals.failed == 1, result
    [failure] = result.failures
    after = await run_probe(client, settings, catalog, "echo", {"after": function})
    assert after.status == "completed" and after.outputs == [{"after": function}], "the worker goes on"
    return failure.error or ""


async def test_a_component_writes_only_in_its_temporary_folder(client, settings, catalog_with_probe, worker) -> None:
    error = await failure_of(client, settings, catalog_with_probe, "write_outside", {})
    assert "wrote only in ['/tmp']" in error, error
    assert "/etc: Read-only file system" in error and "/: Read-only file system" in error


async def test_a_full_temporary_folder_refuses_more(client, settings, catalog_with_probe, worker) -> None:
    """/tmp is a tmpfs of 64 MB: it cannot fill the host's disk (nor, past 64 MB, the memory)."""
    error = await failure_of(client, settings, catalog_with_probe, "fill_tmp", {"mb": 128})
    assert "No space left on device" in error, error
    taken = int(error.split("/tmp took ")[1].split()[0])
    assert 56 <= taken <= 64, f"the tmpfs limit (64 MB) stopped it at {taken} MB"


async def test_no_connection_without_network(client, settings, catalog_with_probe, worker) -> None:
    with LoopbackServer({"/probe": lambda *_: (200, {"ok": True})}) as server:
        target = {"host": "127.0.0.1", "port": server.httpd.server_address[1]}
        reached = await run_probe(client, settings, catalog_with_probe, "reach", target, network=True)
        assert reached.status == "completed" and reached.outputs[0]["reached"].startswith("HTTP/1."), \
            "with network the probe does reach the server (the control)"
        seen = len(server.received)
        error = await failure_of(client, settings, catalog_with_probe, "reach", target)
        assert "Connection refused" in error or "unreachable" in error, error
        bridge = await failure_of(client, settings, catalog_with_probe, "reach", {"host": "172.17.0.1", "port": 80})
        assert "Network is unreachable" in bridge, bridge
        assert len(server.received) == seen, "nothing reached the server without network"


async def test_no_privilege_can_be_gained(client, settings, catalog_with_probe, worker) -> None:
    error = await failure_of(client, settings, catalog_with_probe, "escalate", {})
    assert "no privilege gained (uid 65534, CapEff 0000000000000000, NoNewPrivs 1)" in error, error
    assert "setuid(0): Operation not permitted" in error and "chown to root: Operation not permitted" in error


async def test_exhausting_memory_is_an_out_of_memory_failure(client, settings, catalog_with_probe, worker) -> None:
    error = await failure_of(client, settings, catalog_with_probe, "hog_memory", {}, memory_mb=MEMORY_MB)
    assert f"exit code 137: out of memory (limit {MEMORY_MB} MB" in error, error


async def test_a_fork_bomb_stops_at_the_pids_limit(client, settings, catalog_with_probe, worker) -> None:
    # 255 forks under the step's CPU limit take seconds on a quiet machine, over a minute on a loaded one
    error = await failure_of(client, settings, catalog_with_probe, "fork_bomb", {}, timeout=300)
    assert "fork refused after" in error and "Resource temporarily unavailable" in error, error
    forked = int(error.split("fork refused after ")[1].split()[0])
    assert 200 < forked < 256, f"the container's pids limit (256, the runtime's own included) stopped it at {forked}"
