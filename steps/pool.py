"""The worker's one pool of step containers, of two kinds.

- **Warm** (real-time flows): long-lived sessions fed batch after batch. A key (flow, version,
  step) holds that step's replicas; a batch is spread over the replicas, each of which takes one
  batch at a time (the wire pipelines the batch's requests). A replica that crashes, hangs or
  writes garbage is replaced, and what it held is sent again, up to the step's attempts.
- **Standby** (ordinary flows, polling triggers): fresh containers started ahead of need and used
  for one run each (steps/standby.py); a run that finds none ready starts its own.

Every container the pool starts carries the owner's ``<host>:<pid>``, so a worker that starts
after a dead one removes what that one left behind; ``close`` removes the rest.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from conflux.logs import fields_here
from steps.docker_housekeeping import OWNER_LABEL, worker_owner
from steps.errors import StepFailure
from steps.protocol import RequestOutcome, StepRequest
from steps.runner import StepRunner
from steps.session import StepSession
from steps.spec import ContainerSpec
from steps.standby import REPLACE_AFTER, StandbyKey, StandbySet

log = logging.getLogger("conflux.pool")
RETIRE_TIMEOUT = 10.0


@dataclass(frozen=True)
class WarmKey:
    flow_id: str
    version: int
    step_id: str

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.version} step '{self.step_id}'"


@dataclass
class _Replica:
    spec: ContainerSpec
    session: StepSession | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _WarmStep:
    replicas: list[_Replica]


Outcome = RequestOutcome | StepFailure


class WarmPool:
    """``standby``: containers kept ready per kind unless a flow or step says otherwise (0: none);
    a kind no run asked for in ``standby_idle_seconds`` gives its containers back."""

    def __init__(self, runner: StepRunner, owner: str | None = None, *, standby: int = 0,
                 standby_idle_seconds: float = 900.0) -> None:
        self.runner = runner
        self.owner = owner or worker_owner()
        self.standby = standby
        self.standby_idle_seconds = standby_idle_seconds
        self._steps: dict[WarmKey, _WarmStep] = {}
        self._creating: dict[WarmKey, asyncio.Lock] = {}
        self._standby: dict[StandbyKey, StandbySet] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._housekeeper: asyncio.Task[None] | None = None

    async def run_fresh(self, spec: ContainerSpec, requests: list[StepRequest], timeout: float, *,
                        origin: str, standby: int | None = None) -> list[RequestOutcome]:
        """The ordinary-flow shape: one fresh container for this batch only, a standby one when
        ready. The outcome is settled when the last request ends; the container's input is
        closed, its exit checked and the container removed after, off the run's path (Docker's
        exit work costs CPU the run's next steps need; a bad exit is logged: what the step did
        already stands). ``origin`` ("<flow>/<step>") asks for ``standby`` containers of
        this kind (None: the pool's default)."""
        session = self._take_standby(spec, origin, self.standby if standby is None else standby)
        if session is None:
            owned = spec.model_copy(update={"labels": {**spec.labels, OWNER_LABEL: self.owner}})
            session = await self.runner.open(owned, timeout)
        else:
            session.channel.description = spec.describe()
        session.channel.log_fields = fields_here()
        try:
            outcomes = await session.call(requests, timeout)  # stdin stays open: the exit comes later
        except BaseException:
            await asyncio.shield(session.abort())  # a failed call has aborted already; a cancelled one not
            raise
        self._in_background(_finish_used(session))
        return outcomes

    def warm_containers(self) -> dict[str, int]:
        """Started warm containers per real-time flow (every version); no I/O: for the metrics."""
        counts: dict[str, int] = {}
        for key, step in list(self._steps.items()):
            started = sum(1 for replica in step.replicas if replica.session is not None)
            counts[key.flow_id] = counts.get(key.flow_id, 0) + started
        return counts

    def standby_idle(self) -> dict[str, int]:
        """Ready standby containers per image."""
        return {str(key): standby.idle for key, standby in self._standby.items()}

    def settled(self) -> bool:
        """Nothing under way: every standby set has the ready containers it wants, and every used
        container is gone (a benchmark's "messages some time apart")."""
        return not self._background and all(standby.idle >= standby.wanted for standby in self._standby.values())

    async def ensure(self, key: WarmKey, spec: ContainerSpec, replicas: int) -> int:
        """Start the step's replicas that are missing and wait for their handshakes; how many started."""
        step = await self._step(key, spec, replicas)
        cold = [replica for replica in step.replicas if replica.session is None]
        await asyncio.gather(*(self._open(replica) for replica in cold))
        return len(cold)

    async def call(self, key: WarmKey, spec: ContainerSpec, replicas: int, requests: list[StepRequest],
                   timeout: float, attempts: int) -> list[Outcome]:
        """Each request's outcome, or the StepFailure that ended its replica ``attempts`` times."""
        if not requests:
            return []
        step = await self._step(key, spec, replicas)
        chunks = _split(requests, len(step.replicas))
        results = await asyncio.gather(*(self._call_replica(key, replica, chunk, timeout, attempts)
                                         for replica, chunk in zip(step.replicas, chunks, strict=False) if chunk))
        return [outcome for chunk in results for outcome in chunk]

    async def retire(self, flow_id: str, keep_version: int | None = None) -> int:
        """Stop the flow's containers (all, or those of every version but ``keep_version``)."""
        keys = [key for key in self._steps if key.flow_id == flow_id and key.version != keep_version]
        return sum(await asyncio.gather(*(self._retire(key) for key in keys)))

    async def close(self) -> None:
        """Stop every container this pool holds: warm ones cleanly, standby ones killed, used
        ones once their exit is collected."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        standby, self._standby = list(self._standby.values()), {}
        await asyncio.gather(*(self._retire(key) for key in list(self._steps)),
                             *(each.close() for each in standby))
        await asyncio.gather(*self._background, return_exceptions=True)

    def _take_standby(self, spec: ContainerSpec, origin: str, count: int) -> StepSession | None:
        key = StandbyKey.of(spec)
        standby = self._standby.get(key)
        if standby is None:
            if count <= 0:
                return None
            standby = self._standby[key] = StandbySet(self.runner, spec, self.owner)
            if self._housekeeper is None:
                self._housekeeper = asyncio.create_task(self._give_back_unused())
        standby.want(origin, count)
        return standby.take()

    async def _give_back_unused(self) -> None:
        """Remove the standby containers of kinds no run asked for in ``standby_idle_seconds``."""
        while True:
            await asyncio.sleep(min(60.0, self.standby_idle_seconds / 2))
            cutoff = time.monotonic() - self.standby_idle_seconds
            for key in [key for key, each in self._standby.items() if each.last_used < cutoff]:
                self._in_background(_close_quietly(self._standby.pop(key)))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _step(self, key: WarmKey, spec: ContainerSpec, replicas: int) -> _WarmStep:
        step = self._steps.get(key)
        if step is not None:
            return step
        async with self._creating.setdefault(key, asyncio.Lock()):
            step = self._steps.get(key)
            if step is None:
                step = _WarmStep([_Replica(self._replica_spec(key, spec, index)) for index in range(max(1, replicas))])
                self._steps[key] = step
        return step

    def _replica_spec(self, key: WarmKey, spec: ContainerSpec, index: int) -> ContainerSpec:
        labels = {**spec.labels, "conflux.replica": str(index), "conflux.warm": "true", OWNER_LABEL: self.owner}
        return spec.model_copy(update={"labels": labels,
                                       "name_hint": f"{spec.name_hint} (warm, replica {index + 1})"})

    async def _open(self, replica: _Replica) -> StepSession:
        if replica.session is None:
            replica.session = await self.runner.open(replica.spec)
        return replica.session

    async def _call_replica(self, key: WarmKey, replica: _Replica, requests: list[StepRequest], timeout: float,
                            attempts: int) -> Sequence[Outcome]:
        """The requests as one exchange; when the container kept failing on it, each request again
        on its own: one message that breaks its container (garbage on the wire, a crash, a hang)
        then fails alone instead of taking the others of its batch with it."""
        outcomes = await self._call_together(key, replica, requests, timeout, attempts)
        if len(requests) < 2 or not outcomes or not isinstance(outcomes[0], StepFailure):
            return outcomes
        log.warning("%s: trying its %d messages one by one", key, len(requests))
        return [outcome for request in requests
                for outcome in await self._call_together(key, replica, [request], timeout, attempts)]

    async def _call_together(self, key: WarmKey, replica: _Replica, requests: list[StepRequest], timeout: float,
                             attempts: int) -> Sequence[Outcome]:
        async with replica.lock:
            for attempt in range(1, attempts + 1):
                try:
                    session = await self._open(replica)
                    session.channel.log_fields = fields_here()
                    return await session.call(requests, timeout)
                except asyncio.CancelledError:
                    await asyncio.shield(self._discard(replica))  # mid-exchange: its stream is out of step
                    raise
                except StepFailure as failure:
                    replica.session = None  # the session aborted its container; the next attempt starts a new one
                    final = not failure.retryable or attempt >= attempts
                    log.warning("%s: %s (%s)", key, failure,
                                "giving up on its messages" if final else f"replacing it, attempt {attempt + 1}")
                    if final:
                        return [failure] * len(requests)
        return []  # attempts < 1: nothing was tried

    @staticmethod
    async def _discard(replica: _Replica) -> None:
        session, replica.session = replica.session, None
        if session is not None:
            await session.abort()

    async def _retire(self, key: WarmKey) -> int:
        step = self._steps.pop(key, None)
        if step is None:
            return 0
        return sum(await asyncio.gather(*(_retire_replica(replica) for replica in step.replicas)))


async def _finish_used(session: StepSession) -> None:
    await asyncio.sleep(REPLACE_AFTER)  # as a replacement's start: not while the run's next steps are under way
    try:
        await session.finish(RETIRE_TIMEOUT)
    except StepFailure as failure:
        log.warning("after its last request ended: %s (its outcome stands)", failure)


async def _close_quietly(standby: StandbySet) -> None:
    with contextlib.suppress(Exception):
        removed = await standby.close()
        log.info("standby containers of %s unused for a while: removed %d", standby.key, removed)


async def _retire_replica(replica: _Replica) -> int:
    """After the batch it may be serving: close its input and wait for a clean exit."""
    async with replica.lock:
        session, replica.session = replica.session, None
    if session is None:
        return 0
    try:
        await session.finish(RETIRE_TIMEOUT)
    except StepFailure as failure:
        log.warning("a retired container did not exit cleanly: %s", failure)
    return 1


def _split(requests: list[StepRequest], parts: int) -> list[list[StepRequest]]:
    """Contiguous, nearly equal chunks (order kept, so outcomes come back in request order)."""
    size, extra = divmod(len(requests), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(requests[start:end])
        start = end
    return chunks

