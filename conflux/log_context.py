"""What a log line is about (flow, version, step, message, execution), carried in a context
variable: set once where an activity or a request learns it, read by the JSON formatter
(conflux/logs.py) for every line logged below, without passing it through every call."""

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar, Token

Fields = dict[str, str | int]


@dataclasses.dataclass(frozen=True, slots=True)
class LogFields:
    """The fields a JSON log line carries when known (None: not known here). A dataclass, not a
    pydantic model: the API sets it per intake request, where microseconds count."""

    flow: str | None = None
    version: int | None = None
    step: str | None = None
    message_id: str | None = None
    execution_id: str | None = None
    trace_id: str | None = None  # the trace a line belongs to (docs/observability.md "Traces"), in hex
    span_id: str | None = None

    def known(self) -> Fields:
        return {field.name: value for field in dataclasses.fields(self)
                if (value := getattr(self, field.name)) is not None}


NOTHING_KNOWN = LogFields()
_current: ContextVar[LogFields | None] = ContextVar("conflux_log_fields", default=None)


def current_fields() -> LogFields:
    return _current.get() or NOTHING_KNOWN


@contextlib.contextmanager
def logging_fields(**fields: str | int | None) -> Iterator[LogFields]:
    """Add ``fields`` to every line logged inside the block (and in tasks it starts)."""
    token = bind_fields(**fields)
    try:
        yield current_fields()
    finally:
        _current.reset(token)


def bind_fields(**fields: str | int | None) -> Token[LogFields | None]:
    """:func:`logging_fields` without the block, for a hot path; undo with :func:`unbind_fields`."""
    known = {name: value for name, value in fields.items() if value is not None}
    return _current.set(dataclasses.replace(current_fields(), **known))  # type: ignore[arg-type]  # checked at run time


def set_fields(fields: LogFields) -> Token[LogFields | None]:
    """Replace what is known (nothing merged): the cheapest start of a request's context."""
    return _current.set(fields)


def unbind_fields(token: Token[LogFields | None]) -> None:
    _current.reset(token)
