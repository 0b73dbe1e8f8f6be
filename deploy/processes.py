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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_path.unlink(missing_ok=True)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


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


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def wait_for_port(service: Service, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with code {service.process.returncode}; "
                               f"its log ({service.log_path}) ends:\n{service.tail()}")
        if port_open(port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not open port {port} within {timeout:g}s; log: {service.log_path}")
