"""A running step container or process, seen as a byte pipe: what the session needs of a runner."""

import asyncio
import collections
import dataclasses
import json
import logging
from abc import ABC, abstractmethod

from conflux.log_context import LogFields
from conflux.logs import FIELDS_ATTRIBUTE

STDERR_TAIL_LINES = 40
step_log = logging.getLogger("conflux.step")
TRACE_IDS = ("trace_id", "span_id")  # a runtime's log line's fields that name its request's trace


class Channel(ABC):
    """stdin to write, stdout lines to read, stderr kept as a tail and forwarded to logging."""

    def __init__(self, stdout: asyncio.StreamReader, description: str) -> None:
        self.stdout = stdout
        self.description = description
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.log_fields = LogFields()  # what its stderr lines are about: set by whoever hands it work

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    async def close_stdin(self) -> None: ...

    @abstractmethod
    async def wait(self) -> int:
        """Exit code, once the container or process has ended."""

    @abstractmethod
    async def kill(self) -> None: ...

    @abstractmethod
    def has_exited(self) -> bool:
        """True once the container or process is known to have ended (no waiting)."""

    async def exit_cause(self) -> str | None:
        """Why it ended, when whatever ran it knows (Docker knows of an out-of-memory kill)."""
        return None

    async def dispose(self) -> None:  # noqa: B027  # a hook, empty by default: only a container has something left
        """Release what is left (the container itself)."""

    async def pump_stderr(self, stderr: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            self.record_stderr(line)

    def record_stderr(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        if not text:
            return
        self.stderr_tail.append(text)
        level, message, trace = _log_fields(text)
        fields = self.log_fields
        if trace:
            fields = dataclasses.replace(fields, trace_id=trace.get("trace_id"), span_id=trace.get("span_id"))
        step_log.log(level, "%s: %s", self.description, message, extra={FIELDS_ATTRIBUTE: fields})

    def stderr_excerpt(self, lines: int = 10) -> str:
        return "\n".join(list(self.stderr_tail)[-lines:])


def _log_fields(text: str) -> tuple[int, str, dict[str, str]]:
    """Level, message, and the trace ids the runtime's line names (the request's trace: a warm
    container's batch serves messages of many)."""
    if text.startswith("{"):
        try:
            record = json.loads(text)
            level = logging.getLevelName(str(record.get("level", "info")).upper())
            trace = {name: str(record[name]) for name in TRACE_IDS if name in record}
            return (level if isinstance(level, int) else logging.INFO), str(record.get("msg", text)), trace
        except (ValueError, AttributeError):
            pass
    return logging.INFO, text, {}
