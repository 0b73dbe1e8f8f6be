"""Structured logs on stderr: one JSON object per line, tagged with the request being served."""

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


class Logger:
    """What ``emit.log`` is: level methods bound to one request."""

    def __init__(self, request_id: str | None) -> None:
        self._request_id = request_id

    def debug(self, message: str, **fields: Any) -> None:
        write_log("debug", message, self._request_id, **fields)

    def info(self, message: str, **fields: Any) -> None:
        write_log("info", message, self._request_id, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        write_log("warning", message, self._request_id, **fields)

    def error(self, message: str, **fields: Any) -> None:
        write_log("error", message, self._request_id, **fields)
