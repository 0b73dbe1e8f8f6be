"""What a log line is about (flow, version, step, message, execution), carried in a context
variable: set once where an activity or a request learns it, read by the JSON formatter
(conflux/logs.py) for every line logged below, without passing it through every call."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from pydantic import BaseModel, ConfigDict

Fields = dict[str, str | int]


class LogFields(BaseModel):
    """The fields a JSON log line carries when known (None: not known here)."""

    model_config = ConfigDict(frozen=True)

    flow: str | None = None
    version: int | None = None
    step: str | None = None
    message_id: str | None = None
    execution_id: str | None = None

    def known(self) -> Fields:
        return {name: value for name, value in self.__dict__.items() if value is not None}


NOTHING_KNOWN = LogFields()
_current: ContextVar[LogFields | None] = ContextVar("conflux_log_fields", default=None)


def current_fields() -> LogFields:
    return _current.get() or NOTHING_KNOWN


@contextlib.contextmanager
def logging_fields(**fields: str | int | None) -> Iterator[LogFields]:
    """Add ``fields`` to every line logged inside the block (and in tasks it starts)."""
    merged = current_fields().model_copy(update={name: value for name, value in fields.items() if value is not None})
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)
