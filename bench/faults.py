"""Fault injection: an ordinary and a real-time webhook flow lose nothing and apply nothing twice
while their workers are killed with SIGKILL, one of each flow's step containers with ``docker kill``,
and the Temporal dev server is restarted on its file store.

Each flow (webhook -> transform -> code -> http-request POST; the ordinary flow's code step takes
50 ms) delivers to a loopback target that honours ``Idempotency-Key``: the first request with a key is
applied (its body's ``n`` recorded as an effect) and answered 201, a repeat of the key gets 201 again
and is not applied. ``--messages`` webhooks per flow, each with a key of its own, go out from a few
senders over ``--seconds`` (a 5xx or a failed connection is sent again with the same key) while two
worker processes run; one is killed with -9 at a quarter of the way, the other at 70 % (each started
again at once). From 45 %, per flow, the container of the ``deliver`` step whose request reaches the
target next is killed once the target applied that request and before it answers: the crash the key
is for. At 55 % the Temporal dev server is stopped and started again on its SQLite file (the API and
the workers must reconnect by themselves). Then it waits until every accepted message is applied or
its run is final, and prints, per flow, accepted, delivered, lost, duplicated effects and the
repeats the key absorbed. Exit code 0 only with accepted = delivered, 0 duplicated, every planned
fault done and every process alive at the end.

Run: ``python -m bench.faults [--messages N] [--flow-type ordinary|realtime|both] [--seconds S]
[--senders K] [--deadline S]`` (starts its own Temporal dev server, the API and the workers as
processes; needs Docker). Logs stay in the folder it prints.
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
from temporalio.service import RPCError

from bench.common import until_running
from bench.platform import platform_env
from catalog.build import build_all
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.processes import Service, free_port, start_service, wait_for_service
from deploy.temporal_server import DevServer, running_dev_server
from steps.docker_housekeeping import list_containers

FLOW_TYPES = ("ordinary", "realtime")
FLOW_IDS = {"ordinary": "faults", "realtime": "faults-live"}
FIRST_N = {"ordinary": 0, "realtime": 1_000_000}  # each flow's messages carry n from here: one target for both
KILLED_STEP = "deliver"
WORKERS = ("worker-a", "worker-b")
FINAL = {"COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT"}
RETRY = {"max_attempts": 10, "initial_interval": 0.5, "backoff": 1.5, "max_interval": 5}
ERROR_LINE = re.compile(r"\bERROR\b|^Traceback")  # the services' "ERROR", Temporal's "level=ERROR"
SEND_GIVE_UP = 90.0  # seconds a sender keeps sending one message again after 5xx or a lost connection
TEMPORAL_RESTART_AT = 0.55


def flow(target_url: str, flow_type: str) -> dict[str, Any]:
    """Every step retries a crash quickly and often: two worker kills, a container kill and a
    Temporal restart may hit the same message. The real-time flow's code step does not sleep: it
    runs a batch of up to 100 messages at a time."""
    work = "import time\ntime.sleep(0.05)\n" if flow_type == "ordinary" else ""
    definition: dict[str, Any] = {
        "id": FLOW_IDS[flow_type], "name": f"Bench: fault injection, {flow_type}",
        "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [
            {"id": "shape", "component": "transform", "function": "transform",
             "config": {"expression": "{'n': body.n}"}, "retry": RETRY},
            {"id": "work", "component": "code", "function": "run", "retry": RETRY,
             "config": {"code": work + "return {'n': msg['body']['n']}"}},
            {"id": KILLED_STEP, "component": "http-request", "function": "request", "network": True,
             "standby": 0, "retry": RETRY,
             "rebound": {"initial_delay": 0.5, "backoff": 1.5, "max_attempts": 20, "max_delay": 5},
             "config": {"url": f"{target_url}/effects", "method": "POST", "timeout": 10}},
        ],
    }
    if flow_type == "realtime":
        definition.update(type="realtime", concurrency=10)
    return definition


def flow_of(n: int) -> str:
    return "realtime" if n >= FIRST_N["realtime"] else "ordinary"


class Target:
    """The loopback target: applies the first request of each ``Idempotency-Key``, absorbs repeats.
    ``armed[flow_id]``, when set, is called once with the key of that flow's next effect before it
    is answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}  # Idempotency-Key -> the n it applied
        self.absorbed: Counter[str] = Counter()  # repeats of an applied key, by flow id
        self.rejected = 0  # no key, or no integer n: answered 400
        self.arrivals: list[float] = []  # time.monotonic() of each effect, in order
        self.armed: dict[str, Callable[[str], None]] = {}
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
            flow_id = key.split("/")[0]
            if key in self.applied:
                self.absorbed[flow_id] += 1
                return 201, None
            self.applied[key] = n
            self.arrivals.append(time.monotonic())
            return 201, self.armed.pop(flow_id, None)

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
    """The API and two workers, each a process of its own in ``folder`` (database, blobs, logs), on
    a Temporal dev server this benchmark may restart."""

    def __init__(self, temporal: DevServer, folder: Path) -> None:
        self.temporal = temporal
        self.folder = folder
        self.port = free_port()
        self.env = platform_env(temporal.address, folder, self.port)
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

    def exited(self) -> list[str]:
        """The processes that ended by themselves (with their exit code): none should."""
        return [f"{name} (exit code {service.process.returncode})" for name, service in self.services.items()
                if service.process.poll() is not None]

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


@contextmanager
def running_stack(temporal: DevServer, folder: Path) -> Iterator[Stack]:
    """Both workers polling and the API answering; every process stopped by pid on the way out."""
    stack = Stack(temporal, folder)
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


def numbers(flow_types: list[str], messages: int) -> list[int]:
    """Every message's n, the flows' messages interleaved so both are under load at every fault."""
    return [FIRST_N[flow_type] + index for index in range(messages) for flow_type in flow_types]


async def send_all(api: httpx.AsyncClient, planned: list[int], seconds: float, senders: int, began: float) -> Sent:
    """The ``i``-th of ``planned`` goes out at ``began + i * seconds / len(planned)``, by whichever
    sender is free."""
    sent = Sent()
    tag = uuid.uuid4().hex[:8]
    order = iter(enumerate(planned))

    async def sender() -> None:
        for index, n in order:  # shared: each n is taken by one sender
            await asyncio.sleep(max(0.0, began + index * seconds / len(planned) - time.monotonic()))
            await send_one(api, n, f"faults-{tag}-{n}", sent)

    await asyncio.gather(*(sender() for _ in range(senders)))
    sent.took = time.monotonic() - began
    return sent


async def send_one(api: httpx.AsyncClient, n: int, key: str, sent: Sent) -> None:
    """Again with the same key after a 5xx or a failed connection: the key makes a repeat harmless."""
    give_up = time.monotonic() + SEND_GIVE_UP
    while True:
        try:
            answer = await api.post(f"/hooks/{FLOW_IDS[flow_of(n)]}", json={"n": n},
                                    headers={"Idempotency-Key": key})
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


async def inject_faults(stack: Stack, target: Target, flow_types: list[str], seconds: float, began: float,
                        patience: float) -> list[Kill]:
    """kill -9 worker-a at 25 % of the sending and worker-b at 70 %; restart Temporal at 55 %; from
    45 %, per flow, ``docker kill`` the ``deliver`` container of the next message to reach the target,
    after its effect was applied and before it is answered: the crash the key is for (the step's
    retry sends the same request again). A backlog may keep every request from the target for a
    while: that one waits up to ``patience``."""
    kills: list[Kill] = []

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, began + fraction * seconds - time.monotonic()))

    def done(what: str) -> None:
        kills.append(Kill(time.monotonic() - began, what))

    async def kill_worker(fraction: float, name: str) -> None:
        await at(fraction)
        old, new = stack.kill_and_restart(name)
        done(f"kill -9 {name} (pid {old}), restarted at once: pid {new}")

    async def restart_temporal() -> None:
        await at(TEMPORAL_RESTART_AT)
        down = await asyncio.to_thread(stack.temporal.restart)
        done(f"Temporal dev server stopped and started again on its file store: {down:.1f} s until it answered")

    async def kill_container(flow_type: str) -> None:
        await at(0.45)
        client = docker.from_env()
        outcome: queue.Queue[str] = queue.Queue()
        flow_id = FLOW_IDS[flow_type]
        give_up = time.monotonic() + patience
        while time.monotonic() < give_up:
            target.armed[flow_id] = lambda key: outcome.put(kill_step_container(client, key, flow_type))
            try:
                what = await asyncio.to_thread(outcome.get, timeout=max(0.0, give_up - time.monotonic()))
            except queue.Empty:
                break
            if what:
                done(what)
                return
        target.armed.pop(flow_id, None)

    await asyncio.gather(kill_worker(0.25, WORKERS[0]), restart_temporal(), kill_worker(0.70, WORKERS[1]),
                         *(kill_container(flow_type) for flow_type in flow_types))
    return sorted(kills, key=lambda kill: kill.at)


def kill_step_container(client: docker.DockerClient, key: str, flow_type: str) -> str:
    """``docker kill`` the running container that sent the request with ``key``
    (``{flow}/{message}/{step}``): the ordinary flow's container of that message, the real-time
    flow's warm container of that step (it holds that request and the rest of its batch); "" when
    there is none."""
    flow_id, message_id, step_id = key.split("/")
    labels = [f"conflux.flow={flow_id}", f"conflux.step={step_id}"]
    if flow_type == "ordinary":
        labels.append(f"conflux.execution={flow_id}:{message_id}")
    for found in list_containers(client, labels=labels, status="running"):
        try:
            client.api.kill(found.id)
        except docker.errors.APIError:
            continue  # it ended meanwhile
        return (f"docker kill {flow_type} flow's {step_id} step container {found.id[:12]} of message "
                f"{message_id}, its request applied at the target and not yet answered")
    return ""


async def settle(temporal: Client, api: httpx.AsyncClient, target: Target, accepted: dict[int, str],
                 deadline: float) -> tuple[dict[int, str], dict[str, Any]]:
    """Final statuses of the ordinary runs, by message, and the real-time flow's counters: read
    until every accepted message is applied or its run is final (a real-time message: applied, or
    the flow has nothing waiting or in flight), then until every ordinary run is final (so failed
    runs are counted). From Temporal's visibility, one listing per look: a GET /executions/{id} of a
    running run is a query its worker answers (a replay when not cached), work taken from the runs
    under test."""
    statuses: dict[int, str] = {}
    realtime: dict[str, Any] = {}
    by_execution = {execution: n for n, execution in accepted.items() if flow_of(n) == "ordinary"}
    live = [n for n in accepted if flow_of(n) == "realtime"]
    for every_run in (False, True):
        while time.monotonic() < deadline:
            applied = target.keys_by_n()
            if live:
                realtime = await realtime_status(api) or realtime
            live_done = all(n in applied for n in live) or (
                bool(realtime) and realtime["waiting"] == 0 and realtime["inFlight"] == 0)
            if live_done and all(n in statuses or (n in applied and not every_run) for n in by_execution.values()):
                break
            try:
                async for run in temporal.list_workflows(
                        f"FlowId = '{FLOW_IDS['ordinary']}' AND ExecutionStatus != 'Running'"):
                    if run.id in by_execution and run.status is not None:
                        statuses[by_execution[run.id]] = run.status.name
            except RPCError:
                pass  # Temporal still coming back: the next look
            await asyncio.sleep(2)
    return statuses, realtime


async def realtime_status(api: httpx.AsyncClient) -> dict[str, Any] | None:
    try:
        answer = await api.get(f"/flows/{FLOW_IDS['realtime']}/realtime")
    except httpx.TransportError:
        return None
    return answer.json() if answer.status_code == 200 else None


@dataclass
class Outcome:
    flow_types: list[str]
    sent: Sent
    kills: list[Kill]
    statuses: dict[int, str]
    realtime: dict[str, Any]
    exited: list[str]
    began: float  # time.monotonic() of the first message
    settling: float


async def start_realtime(api: httpx.AsyncClient) -> None:
    """Start the real-time flow and wait for ``running`` (its warm containers answered)."""
    flow_id = FLOW_IDS["realtime"]
    (await api.post(f"/flows/{flow_id}/start")).raise_for_status()
    await until_running(api, flow_id)


async def exercise(stack: Stack, target: Target, flow_types: list[str], messages: int, seconds: float,
                   senders: int, deadline: float) -> Outcome:
    temporal = await connect(PlatformSettings(temporal_address=stack.temporal.address))  # the stack's keys
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as api:
        for flow_type in flow_types:
            (await api.put(f"/flows/{FLOW_IDS[flow_type]}", json=flow(target.url, flow_type))).raise_for_status()
        if "realtime" in flow_types:
            await start_realtime(api)
        began = time.monotonic()
        sent, kills = await asyncio.gather(
            send_all(api, numbers(flow_types, messages), seconds, senders, began),
            inject_faults(stack, target, flow_types, seconds, began, deadline))
        statuses, realtime = await settle(temporal, api, target, sent.accepted, time.monotonic() + deadline)
    return Outcome(flow_types, sent, kills, statuses, realtime, stack.exited(), began, time.monotonic() - began)


@dataclass
class FlowFigures:
    """What one flow's messages came to."""

    accepted: int
    delivered: int
    lost: list[int]
    unfinished: int  # of the lost: runs not final at the deadline (ordinary), or still waiting (real-time)
    failed: int
    duplicated: list[int]
    absorbed: int
    strays: int  # effects of messages never accepted
    by_status: dict[str, int]

    @property
    def passed(self) -> bool:
        return not self.lost and not self.duplicated and self.failed == 0 and self.accepted == self.delivered


def figures(flow_type: str, outcome: Outcome, target: Target) -> FlowFigures:
    by_n = {n: keys for n, keys in target.keys_by_n().items() if flow_of(n) == flow_type}
    accepted = [n for n in outcome.sent.accepted if flow_of(n) == flow_type]
    statuses = outcome.statuses
    if flow_type == "ordinary":
        failed = sum(1 for n in accepted if statuses.get(n) in FINAL - {"COMPLETED"})
        lost = sorted(n for n in accepted if n not in by_n and statuses.get(n) not in FINAL - {"COMPLETED"})
        unfinished = sum(1 for n in lost if statuses.get(n) not in FINAL)
        by_status = dict(Counter(statuses.get(n, "unknown") for n in accepted))
    else:
        counters = outcome.realtime.get("counters", {})
        failed = int(counters.get("failed", 0))
        missing = sorted(n for n in accepted if n not in by_n)
        lost = missing[failed:]  # which ones failed is not kept per message: the counter says how many
        unfinished = int(outcome.realtime.get("waiting", 0)) + int(outcome.realtime.get("inFlight", 0))
        by_status = {"counters": counters} if counters else {}
    return FlowFigures(accepted=len(accepted), delivered=sum(1 for n in accepted if n in by_n), lost=lost,
                       unfinished=unfinished, failed=failed,
                       duplicated=sorted(n for n, keys in by_n.items() if len(keys) > 1),
                       absorbed=target.absorbed[FLOW_IDS[flow_type]],
                       strays=sum(1 for n in by_n if n not in outcome.sent.accepted), by_status=by_status)


def report(outcome: Outcome, target: Target, messages: int, seconds: float, senders: int, wall: float,
           folder: Path) -> bool:
    """Print the tables; True when every flow delivered what it accepted, once, every planned fault
    was done and no process died by itself."""
    print("Fault injection: webhook flows (transform -> code -> http-request POST to a loopback target "
          "honouring Idempotency-Key), Docker runner, Temporal on its SQLite file store")
    print(f"workers: {len(WORKERS)} processes on one task queue; each killed one restarted at once")
    print(f"  {'messages sent':<44} {messages:6} per flow   ({senders} senders over {seconds:g} s, each with its own "
          f"Idempotency-Key; {outcome.sent.resent} sent again; answers {dict(outcome.sent.answers)})")
    verdicts = []
    for flow_type in outcome.flow_types:
        flow_figures = figures(flow_type, outcome, target)
        verdicts.append(flow_figures.passed)
        print_flow(flow_type, flow_figures)
    print(f"  {'effects arrived':<44} {pace(target.arrivals, outcome.began)}")
    print(f"  {'requests rejected by the target (no key or n)':<44} {target.rejected:6}")
    planned = 3 + len(outcome.flow_types)
    print("faults (seconds after the first message):")
    for kill in outcome.kills:
        print(f"  {kill.at:6.1f} s  {kill.what}")
    if len(outcome.kills) < planned:
        print(f"  only {len(outcome.kills)} of {planned} planned faults were done "
              f"(a '{KILLED_STEP}' request not caught)")
    survived = "none: the API and both workers outlived every fault, the Temporal restart included"
    print(f"processes that died by themselves: {', '.join(outcome.exited) or survived}")
    print(f"wall time {wall:.1f} s in all; {outcome.sent.took:.1f} s sending, {outcome.settling:.1f} s until settled")
    print(f"logs: {folder} ({log_errors(folder)})")
    passed = all(verdicts) and len(outcome.kills) == planned and not outcome.exited
    print(f"result: {'PASS' if passed else 'FAIL'}")
    return passed


def print_flow(flow_type: str, flow: FlowFigures) -> None:
    print(f"{flow_type} flow '{FLOW_IDS[flow_type]}':")
    rows = [("accepted (202)", flow.accepted, ""),
            ("delivered (distinct n applied)", flow.delivered, ""),
            ("lost (accepted, never applied, not failed)", len(flow.lost),
             f"   {flow.lost[:20]}, {flow.unfinished} unfinished at the deadline" if flow.lost else ""),
            ("failed", flow.failed, ""),
            ("duplicated effects (n under 2+ keys)", len(flow.duplicated),
             f"   {flow.duplicated[:20]}" if flow.duplicated else ""),
            ("repeated requests absorbed by the key", flow.absorbed,
             "   (each would have been a duplicated effect without the key)"),
            ("effects of messages not accepted", flow.strays, "")]
    for label, value, note in rows:
        print(f"  {label:<44} {value:6}{note}")
    print(f"  {'runs by status' if flow_type == 'ordinary' else 'flow status':<44} {flow.by_status}")
    print(f"  {'accepted = delivered, 0 lost, 0 duplicated':<44} {'yes' if flow.passed else 'NO'}")


def pace(arrivals: list[float], began: float) -> str:
    """When the effects arrived, and the longest wait between two."""
    if not arrivals:
        return "none"
    times = [arrival - began for arrival in sorted(arrivals)]
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


def main(flow_types: list[str], messages: int, seconds: float, senders: int, deadline: float) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    build_all(only=["webhook", "transform", "code", "http-request"], report=None)
    folder = Path(tempfile.mkdtemp(prefix="conflux-faults-"))
    with (Target() as target,
          running_dev_server(folder / "temporal.log", db_file=folder / "temporal.db") as temporal,
          running_stack(temporal, folder) as stack):
        outcome = asyncio.run(exercise(stack, target, flow_types, messages, seconds, senders, deadline))
    return 0 if report(outcome, target, messages, seconds, senders, time.monotonic() - started, folder) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per flow")
    parser.add_argument("--flow-type", choices=[*FLOW_TYPES, "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the sending lasts")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds to wait for the runs after sending")
    arguments = parser.parse_args()
    chosen = list(FLOW_TYPES) if arguments.flow_type == "both" else [arguments.flow_type]
    sys.exit(main(chosen, arguments.messages, arguments.seconds, arguments.senders, arguments.deadline))
