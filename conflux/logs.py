"""Logging for the worker and the API: ``CONFLUX_LOG_FORMAT=text`` (the default, for a terminal)
or ``json``, one object per line for a log pipeline, with the flow, version, step, message id and
execution id of what was being done (conflux/log_context.py; in an activity, Temporal's own
workflow id fills in the execution id where nothing else set it), and the trace and span ids of
the span running where a line is logged (conflux/tracing.py)."""

import dataclasses
import json
import logging
from datetime import UTC, datetime
from typing import Literal

from temporalio import activity

from conflux.log_context import Fields, LogFields, current_fields
from conflux.trace_context import trace_fields

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS_ATTRIBUTE = "conflux_fields"  # a record's own fields (``extra=``), e.g. a step's stderr line's


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the context's fields, and the exception's text if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(record_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def record_fields(record: logging.LogRecord) -> Fields:
    """A record's own fields if it has them (a container's stderr is read by a task that outlives
    the activity that started it), else the context's and the running span's."""
    own = getattr(record, FIELDS_ATTRIBUTE, None)
    if isinstance(own, LogFields):
        return own.known()
    known = current_fields().known()
    if "execution_id" not in known and activity.in_activity() and activity.info().workflow_id:
        known["execution_id"] = str(activity.info().workflow_id)
    known.update(trace_fields())
    return known


def fields_here() -> LogFields:
    """The context's fields and the running span's ids, for lines logged later elsewhere (a
    container's stderr, read by a task of its own)."""
    ids = trace_fields()
    if not ids:
        return current_fields()
    return dataclasses.replace(current_fields(), trace_id=ids["trace_id"], span_id=ids["span_id"])


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """The root logger's one handler on stderr, in the format asked for."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
