"""The platform as it runs in production, for a benchmark: the API (``python -m api``) and the worker
(``python -m worker``) each in a process of its own, on a Temporal server the benchmark started."""

import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import free_port, start_service, wait_for_service

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Platform:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def platform_env(temporal_address: str, folder: Path, port: int, runner: str = "docker") -> dict[str, str]:
    """What the API and worker processes of one benchmark share: the server, a task queue of
    their own, the folder's database and blobs, the API's port."""
    return {**os.environ, "CONFLUX_TEMPORAL_ADDRESS": temporal_address,
            "CONFLUX_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:6]}", "CONFLUX_DB_PATH": str(folder / "conflux.db"),
            "CONFLUX_BLOB_DIR": str(folder / "blobs"), "CONFLUX_PORT": str(port), "CONFLUX_RUNNER": runner,
            "PYTHONPATH": str(REPO_ROOT), "CONFLUX_API_AUTH": "false"}  # benchmarks measure flows, not tokens


@contextlib.contextmanager
def platform_processes(temporal_address: str, runner: str = "docker") -> Iterator[Platform]:
    """Started in a fresh folder (database, blobs, logs); stopped by pid on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="conflux-bench-"))
    port = free_port()
    env = platform_env(temporal_address, folder, port, runner)
    services = [start_service("worker", [sys.executable, "-m", "worker"], folder, env),
                start_service("api", [sys.executable, "-m", "api"], folder, env)]
    try:
        wait_for_service(services[1], port, 60)
        yield Platform(port=port, folder=folder)
    finally:
        for service in reversed(services):
            service.stop()
