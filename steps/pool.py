"""Warm step containers: long-lived sessions that real-time flows feed batch after batch.

One pool per worker process. A key (flow, version, step) holds that step's replicas; a batch is
spread over the replicas, each of which takes one batch at a time (the wire pipelines the
batch's requests). A replica that crashes, hangs or writes garbage is replaced, and what it held
is sent again, up to the step's attempts. Every container carries the owner's ``<host>:<pid>``,
so a worker that starts after a dead one removes what that one left behind.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from steps.docker_housekeeping import OWNER_LABEL, worker_owner
from steps.errors import StepFailure
from steps.protocol import RequestOutcome, StepRequest
from steps.runner import StepRunner
from steps.session import StepSession
from steps.spec import ContainerSpec

log = logging.getLogger("conflux.pool")
READY_TIMEOUT = 60.0
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
    def __init__(self, runner: StepRunner, owner: str | None = None) -> None:
        self.runner = runner
        self.owner = owner or worker_owner()
        self._steps: dict[WarmKey, _WarmStep] = {}
        self._creating: dict[WarmKey, asyncio.Lock] = {}

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
        await asyncio.gather(*(self._retire(key) for key in list(self._steps)))

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
            replica.session = await self.runner.open(replica.spec, READY_TIMEOUT)
        return replica.session

    async def _call_replica(self, key: WarmKey, replica: _Replica, requests: list[StepRequest], timeout: float,
                            attempts: int) -> Sequence[Outcome]:
        async with replica.lock:
            for attempt in range(1, attempts + 1):
                try:
                    session = await self._open(replica)
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

