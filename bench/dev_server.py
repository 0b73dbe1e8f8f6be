"""A throwaway headless Temporal dev server for a benchmark run, stopped by pid."""

import contextlib
import socket
import subprocess
import time
from typing import Iterator

from deploy.temporal_server import start_dev_command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def dev_server() -> Iterator[str]:
    port = _free_port()
    command = start_dev_command(port, http_port=_free_port(), metrics_port=_free_port())
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)
