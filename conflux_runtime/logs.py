"""Structured logs on stderr: one JSON object per line, tagged with the request being served and,
when the platform traces, the request's trace (``trace_id``, ``span_id``: its ``traceparent``)."""

import json
import sys
import time
from typing import Any


def write_log(level: str, message: str, request_id: str | None = None, **fields: Any) -> None:
    record = {"time": round(time.time(), 3), "level": level, "msg": message}
    if request_id is not None:
        record["id"] = request_id
    record.update(fields)
    sys.stderr.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    sys.stderr.flush()


_HEX_DIGITS = frozenset("0123456789abcdef")


def trace_ids(traceparent: object) -> dict[str, str]:
    """``trace_id`` and ``span_id`` of a W3C ``traceparent`` (``00-<32 hex>-<16 hex>-<2 hex>``);
    nothing for anything else: a request's trace is optional (docs/step-protocol.md)."""
    if not isinstance(traceparent, str):
        return {}
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or not _hex(parts[1] + parts[2]):
        return {}
    return {"trace_id": parts[1], "span_id": parts[2]}


def _hex(text: str) -> bool:
    return set(text) <= _HEX_DIGITS


class Logger:
    """What ``emit.log`` is: level methods bound to one request (and its trace, when it has one)."""

    def __init__(self, request_id: str | None, trace: dict[str, str] | None = None) -> None:
        self._request_id = request_id
        self._trace = trace or {}

    def debug(self, message: str, **fields: Any) -> None:
        write_log("debug", message, self._request_id, **{**self._trace, **fields})

    def info(self, message: str, **fields: Any) -> None:
        write_log("info", message, self._request_id, **{**self._trace, **fields})

    def warning(self, message: str, **fields: Any) -> None:
        write_log("warning", message, self._request_id, **{**self._trace, **fields})

    def error(self, message: str, **fields: Any) -> None:
        write_log("error", message, self._request_id, **{**self._trace, **fields})
