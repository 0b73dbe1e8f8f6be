"""Child processes of the local stack: started with a log file and a pid file, stopped by pid."""

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path
    pid_path: Path

    def stop(self, timeout: float = 20.0) -> None:
        stop_process(self.process, timeout)
        self.pid_path.unlink(missing_ok=True)

    def tail(self, lines: int = 15) -> str:
        return _tail(self.log_path, lines)


def start_service(name: str, command: list[str], run_dir: Path, env: dict[str, str]) -> Service:
    """Start ``command`` unless a pid file names a live process of ours (then stop that first)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    pid_path = run_dir / f"{name}.pid"
    stop_stale(pid_path)
    log_path = run_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    pid_path.write_text(str(process.pid))
    return Service(name, process, log_path, pid_path)


def stop_stale(pid_path: Path) -> None:
    """A stack killed without cleaning up leaves pid files; end what they name before starting again."""
    try:
        pid = int(pid_path.read_text())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_path.unlink(missing_ok=True)


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float, process: subprocess.Popen, name: str,
                  log_path: Path | None = None) -> None:
    """Until ``port`` opens; a process that exits first, or a timeout, raises with where to look."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} before opening port {port}"
                               + (f"; its log ({log_path}) ends:\n{_tail(log_path)}" if log_path else ""))
        if port_open(port):
            return
        time.sleep(0.1)
    where = f"; log: {log_path}" if log_path else ""
    raise RuntimeError(f"{name} did not open port {port} within {timeout:g}s{where}")


def wait_for_service(service: Service, port: int, timeout: float) -> None:
    wait_for_port(port, timeout, service.process, service.name, service.log_path)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
