"""One interface over the two ways to run a step: Docker containers, or local processes.

``open`` gives a session, ready for requests: the pool (steps/pool.py) feeds it one batch (a fresh
or standby container of an ordinary flow) or batch after batch (a warm one of a real-time flow).
``run_once`` is a container's whole life in one call (start, one batch, clean exit checked,
remove): the runners' contract as the tests and the step-runner benchmark drive it.
"""

import asyncio
import logging
import os
from abc import ABC, abstractmethod
from typing import Literal

from conflux.metrics import container_failed, container_started
from steps.channel import Channel
from steps.docker_channel import DockerChannel, docker_client
from steps.docker_housekeeping import remove_leftover_containers
from steps.errors import RunnerUnavailable, StepFailure
from steps.process_channel import ProcessChannel
from steps.protocol import DEFAULT_MAX_LINE_BYTES, RequestOutcome, StepRequest
from steps.session import StepSession
from steps.spec import ContainerSpec
from steps.step_priority import DEFAULT_NICENESS, step_niceness

log = logging.getLogger("conflux.runner")
RunnerKind = Literal["auto", "docker", "process"]
READY_TIMEOUT = 60.0  # a container start and its runtime's import, on a busy engine


class StepRunner(ABC):
    kind: str

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, niceness: int = DEFAULT_NICENESS) -> None:
        self.max_line_bytes = max_line_bytes
        self.niceness = niceness  # steps yield the CPU to the platform (steps/step_priority.py)

    @abstractmethod
    async def _start(self, spec: ContainerSpec) -> Channel: ...

    async def _session(self, spec: ContainerSpec) -> StepSession:
        """A started container's session, counted (a start that fails is counted as a failure)."""
        try:
            channel = await self._start(spec)
        except StepFailure as failure:
            container_failed(spec.image, type(failure).__name__)
            raise
        container_started(spec.image)
        return StepSession(channel, self.max_line_bytes, spec.image)

    async def remove_leftovers(self) -> int:
        """Remove what an earlier worker killed with -9 left behind; how many were removed."""
        return 0

    async def open(self, spec: ContainerSpec, ready_timeout: float = READY_TIMEOUT) -> StepSession:
        """Start a container and wait until its runtime is ready for requests."""
        session = await self._session(spec)
        try:
            await session.handshake(ready_timeout)
        except asyncio.CancelledError:
            await asyncio.shield(session.abort())  # started but never handed out: nobody else would stop it
            raise
        return session

    async def run_once(self, spec: ContainerSpec, requests: list[StepRequest], timeout: float) -> list[RequestOutcome]:
        """Start, send the batch, close stdin, collect every outcome, check the exit, remove."""
        session = await self._session(spec)
        try:
            await session.handshake(timeout)
            outcomes = await session.call(requests, timeout, last=True)
            await session.finish()
        except BaseException:
            await session.abort()
            raise
        return outcomes


class DockerRunner(StepRunner):
    kind = "docker"

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, niceness: int = DEFAULT_NICENESS) -> None:
        super().__init__(max_line_bytes, niceness)
        client = docker_client()
        if client is None:
            raise RunnerUnavailable("no Docker engine answers (is dockerd running? try deploy/ensure_docker.sh)")
        self.client = client

    async def _start(self, spec: ContainerSpec) -> Channel:
        return await DockerChannel.start(self.client, spec, self.max_line_bytes, self.niceness)

    async def remove_leftovers(self) -> int:
        return await asyncio.to_thread(remove_leftover_containers, self.client)


class ProcessRunner(StepRunner):
    kind = "process"

    async def _start(self, spec: ContainerSpec) -> Channel:
        return await ProcessChannel.start(spec, self.max_line_bytes, self.niceness)


def make_runner(kind: RunnerKind | None = None, max_line_bytes: int | None = None) -> StepRunner:
    """The runner asked for (``CONFLUX_RUNNER``: auto, docker, process); auto uses Docker when it answers.
    Its steps run ``CONFLUX_STEP_NICENESS`` levels below the platform (steps/step_priority.py)."""
    name = kind or os.environ.get("CONFLUX_RUNNER", "auto")  # the environment's value is checked below
    max_line_bytes = max_line_bytes or int(os.environ.get("CONFLUX_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES))
    niceness = step_niceness(os.environ.get("CONFLUX_STEP_NICENESS"))
    if name == "process":
        runner: StepRunner = ProcessRunner(max_line_bytes, niceness)
    elif name == "docker":
        runner = DockerRunner(max_line_bytes, niceness)
    elif name == "auto":
        try:
            runner = DockerRunner(max_line_bytes, niceness)
        except RunnerUnavailable:
            log.warning("no Docker engine answers: steps run as local processes (no isolation)")
            runner = ProcessRunner(max_line_bytes, niceness)
    else:
        raise ValueError(f"CONFLUX_RUNNER={name!r}: expected auto, docker or process")
    log.info("step runner: %s", runner.kind)
    return runner
