"""Fault injection: an ordinary webhook flow loses nothing and applies nothing twice while its
workers are killed with SIGKILL and one of its step containers with ``docker kill``.

A flow (webhook -> transform -> code, 50 ms -> http-request POST) delivers to a loopback target that
honours ``Idempotency-Key``: the first request with a key is applied (its body's ``n`` recorded as an
effect) and answered 201, a repeat of the key gets 201 again and is not applied. ``--messages``
webhooks, each with a key of its own, go out from a few senders over ``--seconds`` (a 5xx or a failed
connection is sent again with the same key) while two worker processes run; one is killed with -9 at
a quarter of the way, the other at 70 % (each started again at once). From 45 %, the container of
the ``deliver`` step (standby 0, so its containers carry the flow's labels) whose request reaches the
target next is killed once the target applied that request and before it answers: the crash the key
is for. Then it waits until every accepted message is applied or its run is final, and prints
accepted, delivered, lost, duplicated effects and the repeats the key absorbed. Exit code 0 only with
0 lost, 0 duplicated and every planned kill done.

Run: ``python -m bench.faults [--messages N] [--seconds S] [--senders K] [--deadline S]`` (starts its
own Temporal dev server, the API and the workers as processes; needs Docker). Logs stay in the folder
it prints.
"""

import argparse
import asyncio
import json
import queue
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import docker.errors
import httpx
from temporalio.client import Client

from bench.platform import platform_env
from catalog.build import build_all
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.processes import Service, free_port, start_service, wait_for_service
from deploy.temporal_server import dev_server
from steps.docker_housekeeping import list_containers

FLOW_ID = "faults"
KILLED_STEP = "deliver"
WORKERS = ("worker-a", "worker-b")
FINAL = {"COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT"}
RETRY = {"max_attempts": 10, "initial_interval": 0.5, "backoff": 1.5, "max_interval": 5}
ERROR_LINE = re.compile(r"\bERROR\b|^Traceback")  # the services' "ERROR", Temporal's "level=ERROR"
SEND_GIVE_UP = 60.0  # seconds a sender keeps sending one message again after 5xx or a lost connection


def flow(target_url: str) -> dict[str, Any]:
    """Every step retries a crash quickly and often: two worker kills and a container kill may hit
    the same message."""
    return {
        "id": FLOW_ID, "name": "Bench: fault injection",
        "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [
            {"id": "shape", "component": "transform", "function": "transform",
             "config": {"expression": "{'n': body.n}"}, "retry": RETRY},
            {"id": "work", "component": "code", "function": "run", "retry": RETRY,
             "config": {"code": "import time\ntime.sleep(0.05)\nreturn {'n': msg['body']['n']}"}},
            {"id": KILLED_STEP, "component": "http-request", "function": "request", "network": True,
             "standby": 0, "retry": RETRY,
             "rebound": {"initial_delay": 0.5, "backoff": 1.5, "max_attempts": 20, "max_delay": 5},
             "config": {"url": f"{target_url}/effects", "method": "POST", "timeout": 10}},
        ],
    }


class Target:
    """The loopback target: applies the first request of each ``Idempotency-Key``, absorbs repeats.
    ``armed``, when set, is called once with the key of the next effect before that is answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}  # Idempotency-Key -> the n it applied
        self.absorbed = 0  # repeats of an applied key: without the key, each would be a second effect
        self.rejected = 0  # no key, or no integer n: answered 400
        self.arrivals: list[float] = []  # time.monotonic() of each effect, in order
        self.armed: Callable[[str], None] | None = None
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, key: str | None, body: bytes) -> tuple[int, Callable[[str], None] | None]:
        """The answer's status, and what to call before answering."""
        try:
            n = json.loads(body).get("n")
        except (ValueError, AttributeError):
            n = None
        with self.lock:
            if not key or not isinstance(n, int):
                self.rejected += 1
                return 400, None
            if key in self.applied:
                self.absorbed += 1
                return 201, None
            self.applied[key] = n
            self.arrivals.append(time.monotonic())
            armed, self.armed = self.armed, None
            return 201, armed

    def keys_by_n(self) -> dict[int, set[str]]:
        with self.lock:
            applied = dict(self.applied)
        by_n: dict[int, set[str]] = {}
        for key, n in applied.items():
            by_n.setdefault(n, set()).add(key)
        return by_n

    def __enter__(self) -> "Target":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a killed container's connection is no news
            super().handle_error(request, client_address)


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Idempotency-Key")
            status, before_answering = target.receive(key, body)
            if before_answering is not None and key:
                before_answering(key)
            answer = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Stack:
    """The API and two workers, each a process of its own in ``folder`` (database, blobs, logs)."""

    def __init__(self, temporal_address: str, folder: Path) -> None:
        self.temporal_address = temporal_address
        self.folder = folder
        self.port = free_port()
        self.env = platform_env(temporal_address, folder, self.port)
        self.services: dict[str, Service] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> Service:
        module = "api" if name == "api" else "worker"
        self.services[name] = start_service(name, [sys.executable, "-m", module], self.folder, self.env)
        return self.services[name]

    def kill_and_restart(self, name: str) -> tuple[int, int]:
        """SIGKILL, then a new process under the same name (its log goes on in the same file)."""
        old = self.services[name]
        old.process.kill()
        old.process.wait()
        old.pid_path.unlink(missing_ok=True)
        return old.process.pid, self.start(name).process.pid

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


@contextmanager
def running_stack(temporal_address: str, folder: Path) -> Iterator[Stack]:
    """Both workers polling and the API answering; every process stopped by pid on the way out."""
    stack = Stack(temporal_address, folder)
    try:
        for name in WORKERS:
            stack.start(name)
        wait_for_service(stack.start("api"), stack.port, 60)
        deadline = time.monotonic() + 60
        while not all("worker on " in stack.services[name].tail(50) for name in WORKERS):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start within 60 s; logs in {folder}")
            time.sleep(0.2)
        yield stack
    finally:
        stack.stop()


@dataclass
class Sent:
    accepted: dict[int, str] = field(default_factory=dict)  # n -> executionId
    answers: Counter[int | str] = field(default_factory=Counter)  # by status, or exception name
    resent: int = 0
    took: float = 0.0  # seconds from the first message to the last answer


async def send_all(api: httpx.AsyncClient, count: int, seconds: float, senders: int, began: float) -> Sent:
    """Message ``n`` goes out at ``began + n * seconds / count``, by whichever sender is free."""
    sent = Sent()
    tag = uuid.uuid4().hex[:8]
    numbers = iter(range(count))

    async def sender() -> None:
        for n in numbers:  # shared: each n is taken by one sender
            await asyncio.sleep(max(0.0, began + n * seconds / count - time.monotonic()))
            await send_one(api, n, f"faults-{tag}-{n}", sent)

    await asyncio.gather(*(sender() for _ in range(senders)))
    sent.took = time.monotonic() - began
    return sent


async def send_one(api: httpx.AsyncClient, n: int, key: str, sent: Sent) -> None:
    """Again with the same key after a 5xx or a failed connection: the key makes a repeat harmless."""
    give_up = time.monotonic() + SEND_GIVE_UP
    while True:
        try:
            answer = await api.post(f"/hooks/{FLOW_ID}", json={"n": n}, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            sent.answers[type(exc).__name__] += 1
        else:
            sent.answers[answer.status_code] += 1
            if answer.status_code == 202:
                sent.accepted[n] = answer.json()["executionId"]
                return
            if answer.status_code < 500:
                return
        if time.monotonic() > give_up:
            return
        sent.resent += 1
        await asyncio.sleep(0.5)


@dataclass
class Kill:
    at: float  # seconds since the first message
    what: str


async def inject_faults(stack: Stack, target: Target, seconds: float, began: float, patience: float) -> list[Kill]:
    """kill -9 worker-a at 25 % of the sending and worker-b at 70 %; from 45 %, ``docker kill`` the
    ``deliver`` container of the next message to reach the target, after its effect was applied and
    before it is answered: the crash the key is for (the step's retry sends the same request again).
    A backlog may keep every request from the target for a while: that one waits up to ``patience``."""
    kills: list[Kill] = []

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, began + fraction * seconds - time.monotonic()))

    async def kill_worker(fraction: float, name: str) -> None:
        await at(fraction)
        old, new = stack.kill_and_restart(name)
        kills.append(Kill(time.monotonic() - began, f"kill -9 {name} (pid {old}), restarted at once: pid {new}"))

    async def kill_container() -> None:
        await at(0.45)
        client = docker.from_env()
        outcome: queue.Queue[str] = queue.Queue()
        give_up = time.monotonic() + patience
        while time.monotonic() < give_up:
            target.armed = lambda key: outcome.put(kill_step_container(client, key))  # in the target's thread
            try:
                what = await asyncio.to_thread(outcome.get, timeout=max(0.0, give_up - time.monotonic()))
            except queue.Empty:
                break
            if what:
                kills.append(Kill(time.monotonic() - began, what))
                return
        target.armed = None

    await asyncio.gather(kill_worker(0.25, WORKERS[0]), kill_container(), kill_worker(0.70, WORKERS[1]))
    return sorted(kills, key=lambda kill: kill.at)


def kill_step_container(client: docker.DockerClient, key: str) -> str:
    """``docker kill`` the running container that sent the request with ``key``
    (``{flow}/{message}/{step}``); "" when there is none."""
    flow_id, message_id, step_id = key.split("/")
    execution = f"{flow_id}:{message_id}"
    labels = [f"conflux.flow={flow_id}", f"conflux.step={step_id}", f"conflux.execution={execution}"]
    for found in list_containers(client, labels=labels, status="running"):
        try:
            client.api.kill(found.id)
        except docker.errors.APIError:
            continue  # it ended meanwhile
        return (f"docker kill {step_id} step container {found.id[:12]} of {execution}, "
                "its request applied at the target and not yet answered")
    return ""


async def settle(temporal: Client, target: Target, accepted: dict[int, str], deadline: float) -> dict[int, str]:
    """Final statuses of the runs, by message: read until every accepted message is applied or its
    run is final, then until every run is final (so failed runs are counted). From Temporal's
    visibility, one listing per look: a GET /executions/{id} of a running run is a query its worker
    answers (a replay when not cached), work taken from the runs under test."""
    statuses: dict[int, str] = {}
    by_execution = {execution: n for n, execution in accepted.items()}
    for every_run in (False, True):
        while time.monotonic() < deadline:
            applied = target.keys_by_n()
            if all(n in statuses or (n in applied and not every_run) for n in accepted):
                break
            async for run in temporal.list_workflows(f"FlowId = '{FLOW_ID}' AND ExecutionStatus != 'Running'"):
                if run.id in by_execution and run.status is not None:
                    statuses[by_execution[run.id]] = run.status.name
            await asyncio.sleep(2)
    return statuses


@dataclass
class Outcome:
    sent: Sent
    kills: list[Kill]
    statuses: dict[int, str]
    began: float  # time.monotonic() of the first message
    settling: float


async def exercise(stack: Stack, target: Target, messages: int, seconds: float, senders: int,
                   deadline: float) -> Outcome:
    temporal = await connect(PlatformSettings(temporal_address=stack.temporal_address))  # the stack's keys
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as api:
        (await api.put(f"/flows/{FLOW_ID}", json=flow(target.url))).raise_for_status()
        began = time.monotonic()
        sent, kills = await asyncio.gather(send_all(api, messages, seconds, senders, began),
                                           inject_faults(stack, target, seconds, began, deadline))
    statuses = await settle(temporal, target, sent.accepted, time.monotonic() + deadline)
    return Outcome(sent, kills, statuses, began, time.monotonic() - began)


def report(outcome: Outcome, target: Target, messages: int, seconds: float, senders: int, wall: float,
           folder: Path) -> bool:
    """Print the table; True when nothing was lost or applied twice and every planned kill was done."""
    accepted = outcome.sent.accepted
    by_n = target.keys_by_n()
    statuses = outcome.statuses
    failed = sum(1 for n in accepted if statuses.get(n) in FINAL - {"COMPLETED"})
    lost = sorted(n for n in accepted if n not in by_n and statuses.get(n) not in FINAL - {"COMPLETED"})
    unfinished = sum(1 for n in lost if statuses.get(n) not in FINAL)
    duplicated = sorted(n for n, keys in by_n.items() if len(keys) > 1)
    strays = sorted(n for n in by_n if n not in accepted)
    kills_done = len(outcome.kills) == 3
    print(f"Fault injection: ordinary webhook flow '{FLOW_ID}' (transform -> code 50 ms -> http-request "
          f"POST to a loopback target honouring Idempotency-Key), Docker runner")
    print(f"workers: {len(WORKERS)} processes on one task queue; each killed one restarted at once")
    print(f"  {'messages sent':<40} {messages:6}   ({senders} senders over {seconds:g} s, each with its own "
          f"Idempotency-Key; {outcome.sent.resent} sent again; answers {dict(outcome.sent.answers)})")
    rows = [("accepted (202)", len(accepted), ""),
            ("delivered (distinct n applied)", sum(1 for n in accepted if n in by_n), ""),
            ("lost (accepted, never applied, not failed)", len(lost),
             f"   {lost[:20]}, {unfinished} of them unfinished at the deadline" if lost else ""),
            ("failed runs", failed, ""),
            ("duplicated effects (n under 2+ keys)", len(duplicated), f"   {duplicated[:20]}" if duplicated else ""),
            ("repeated requests absorbed by the key", target.absorbed,
             "   (each would have been a duplicated effect without the key)"),
            ("requests rejected (no key or no n)", target.rejected, ""),
            ("effects of messages not accepted", len(strays), "")]
    for label, value, note in rows:
        print(f"  {label:<40} {value:6}{note}")
    print(f"  {'runs by status':<40} {dict(Counter(statuses.get(n, 'unknown') for n in accepted))}")
    print(f"  {'effects arrived':<40} {pace(target.arrivals, outcome.began)}")
    print("kills (seconds after the first message):")
    for kill in outcome.kills:
        print(f"  {kill.at:6.1f} s  {kill.what}")
    if not kills_done:
        print(f"  only {len(outcome.kills)} of 3 planned kills were done (no '{KILLED_STEP}' request caught)")
    print(f"wall time {wall:.1f} s in all; {outcome.sent.took:.1f} s sending, {outcome.settling:.1f} s until settled")
    print(f"logs: {folder} ({log_errors(folder)})")
    passed = not lost and not duplicated and kills_done
    print(f"result: {'PASS' if passed else 'FAIL'} ({len(lost)} lost, {len(duplicated)} duplicated)")
    return passed


def pace(arrivals: list[float], began: float) -> str:
    """When the effects arrived, and the longest wait between two."""
    if not arrivals:
        return "none"
    times = [arrival - began for arrival in arrivals]
    pause, after = max(((later - earlier, earlier) for earlier, later in pairwise(times)), default=(0.0, times[0]))
    return (f"first at {times[0]:.1f} s, half at {times[len(times) // 2]:.1f} s, last at {times[-1]:.1f} s; "
            f"longest pause {pause:.1f} s (after {after:.1f} s)")


def log_errors(folder: Path) -> str:
    """Lines with ERROR or a traceback, per log: where to look for what went wrong."""
    counts = []
    for log in sorted(folder.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        counts.append(f"{log.name} {sum(1 for line in lines if ERROR_LINE.search(line))}")
    return "lines with ERROR or Traceback: " + ", ".join(counts)


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (``timeout``) unwinds like Ctrl-C, so the ``finally`` blocks stop every process by pid."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main(messages: int, seconds: float, senders: int, deadline: float) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    build_all(only=["webhook", "transform", "code", "http-request"], report=None)
    folder = Path(tempfile.mkdtemp(prefix="conflux-faults-"))
    with (Target() as target,
          dev_server(folder / "temporal.log", db_file=folder / "temporal.db") as address,
          running_stack(address, folder) as stack):
        outcome = asyncio.run(exercise(stack, target, messages, seconds, senders, deadline))
    return 0 if report(outcome, target, messages, seconds, senders, time.monotonic() - started, folder) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the sending lasts")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds to wait for the runs after sending")
    arguments = parser.parse_args()
    sys.exit(main(arguments.messages, arguments.seconds, arguments.senders, arguments.deadline))
