"""Standby containers: fresh step containers started ahead of need, each used for one run only.

An ordinary flow promises a fresh container per message; starting one costs ≈ 250 ms of Docker
time on the message's path. A standby set keeps a few containers of one kind (same image and
limits) started and past their ``ready`` handshake; a run takes one, uses it once, and a
replacement starts in the background. Containers are interchangeable until used: they carry no
flow or message, only the owner's ``<host>:<pid>`` so leftovers of a dead worker are removed.
"""

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass

from steps.docker_housekeeping import OWNER_LABEL
from steps.runner import StepRunner
from steps.session import StepSession
from steps.spec import ContainerSpec

log = logging.getLogger("conflux.standby")
PAUSE_AFTER_FAILED_START = 10.0  # a broken image must not be restarted in a loop
# A replacement starts this long after a container was taken while others are ready: Docker's start
# costs ≈ 0.1–0.2 s of CPU, which would otherwise slow the run's next steps (measured on 2 cores:
# 3 steps 165 -> 130 ms). When none is left, replacements start at once.
REPLACE_AFTER = 0.5


@dataclass(frozen=True)
class StandbyKey:
    """What makes two unused containers interchangeable."""

    image: str
    component_dir: str | None
    network: str
    memory_mb: int
    cpus: float
    pids_limit: int
    env: tuple[tuple[str, str], ...]
    command: tuple[str, ...] | None

    @classmethod
    def of(cls, spec: ContainerSpec) -> "StandbyKey":
        return cls(spec.image, str(spec.component_dir) if spec.component_dir else None, spec.network,
                   spec.memory_mb, spec.cpus, spec.pids_limit, tuple(sorted(spec.env.items())),
                   tuple(spec.command) if spec.command is not None else None)

    def __str__(self) -> str:
        return self.image


class StandbySet:
    """Up to ``wanted`` ready containers of one kind. ``take`` never waits for a start."""

    def __init__(self, runner: StepRunner, spec: ContainerSpec, owner: str) -> None:
        self.runner = runner
        self.key = StandbyKey.of(spec)
        labels = {"conflux.standby": "true", "conflux.image": spec.image, OWNER_LABEL: owner}
        self.spec = spec.model_copy(update={"labels": labels, "name_hint": "standby container"})
        self.wanted_by: dict[str, int] = {}  # "<flow>/<step>" -> the count it asks for
        self.last_used = time.monotonic()
        self._idle: deque[StepSession] = deque()
        self._starting: set[asyncio.Task[None]] = set()
        self._discarding: set[asyncio.Task[None]] = set()
        self._replacing: asyncio.Task[None] | None = None
        self._paused_until = 0.0
        self._closed = False

    @property
    def wanted(self) -> int:
        """Enough for one message of any flow to find every container of this kind it needs
        ready: a flow's steps add up, flows do not (they share the set)."""
        per_flow: dict[str, int] = {}
        for origin, count in self.wanted_by.items():
            flow = origin.split("/", 1)[0]
            per_flow[flow] = per_flow.get(flow, 0) + count
        return max(per_flow.values(), default=0)

    @property
    def idle(self) -> int:
        """Ready ones, not counting any that ended while idle."""
        return sum(1 for session in self._idle if not session.channel.has_exited())

    def want(self, origin: str, count: int) -> None:
        self.wanted_by[origin] = count
        surplus = len(self._idle) - self.wanted
        for _ in range(max(0, surplus)):
            self._discard(self._idle.pop())
        self.refill()

    def take(self) -> StepSession | None:
        """A ready container never used before, or None (the caller starts one itself)."""
        self.last_used = time.monotonic()
        session = None
        while self._idle:
            candidate = self._idle.popleft()
            if candidate.channel.has_exited():
                log.warning("a standby container of %s ended while idle; discarding it%s", self.key,
                            _stderr_hint(candidate))
                self._discard(candidate)
                continue
            session = candidate
            break
        if not self._idle:
            self.refill()  # none left: the next run would wait for a start of its own
        elif self._replacing is None or self._replacing.done():
            self._replacing = asyncio.create_task(self._refill_after(REPLACE_AFTER))
        return session

    async def _refill_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.refill()

    def refill(self) -> None:
        if self._closed or time.monotonic() < self._paused_until:
            return
        for _ in range(self.wanted - len(self._idle) - len(self._starting)):
            task = asyncio.create_task(self._start_one())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def close(self) -> int:
        """Start no more, kill and remove the idle ones; how many were removed. Starts under way
        are waited for, not cancelled (each removes its container when it sees the set closed): a
        cancelled start would leave Docker to finish creating a container nobody removes."""
        self._closed = True
        if self._replacing is not None:
            self._replacing.cancel()
        await asyncio.gather(*self._starting, *self._discarding, return_exceptions=True)
        idle, self._idle = list(self._idle), deque()
        await asyncio.gather(*(session.abort() for session in idle))
        return len(idle)

    def _discard(self, session: StepSession) -> None:
        task = asyncio.create_task(session.abort())
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)

    async def _start_one(self) -> None:
        try:
            session = await self.runner.open(self.spec)
        except Exception as failure:  # StepFailure, or the engine's own error: a run starts its own meanwhile
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILED_START
            log.warning("a standby container of %s did not start (%s); runs start their own for %gs",
                        self.key, failure, PAUSE_AFTER_FAILED_START)
            return
        if self._closed or len(self._idle) >= self.wanted:
            await session.abort()
        else:
            self._idle.append(session)


def _stderr_hint(session: StepSession) -> str:
    stderr = session.channel.stderr_excerpt()
    return f"; last stderr lines:\n{stderr}" if stderr else ""
