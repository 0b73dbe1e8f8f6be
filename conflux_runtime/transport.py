"""JSON lines on the protocol channel.

The runtime owns the process's original stdout for protocol events only. Everything else that
would write to fd 1 (an author's print(), a library, a subprocess) is redirected to stderr, so
stray output can never corrupt the protocol stream.
"""

import json
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO


class Transport:
    def __init__(self, events_out: BinaryIO, requests_in: BinaryIO) -> None:
        self._out = events_out
        self._in = requests_in
        self._lock = threading.Lock()

    @classmethod
    def take_over_stdio(cls) -> "Transport":
        """Keep fd 1 for events, point fd 1 and sys.stdout at stderr for everyone else."""
        sys.stdout.flush()
        protocol_fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return cls(os.fdopen(protocol_fd, "wb", buffering=0), sys.stdin.buffer)

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        data = line.encode("utf-8") + b"\n"
        with self._lock:
            self._out.write(data)

    def requests(self) -> Iterator[dict[str, Any] | ValueError]:
        """Yield each request line parsed; a line that is not a JSON object yields a ValueError."""
        for raw in self._in:
            if not raw.strip():
                continue
            try:
                request = json.loads(raw)
            except ValueError as exc:
                yield ValueError(f"request line is not JSON: {exc}")
                continue
            if not isinstance(request, dict):
                yield ValueError("request line is not a JSON object")
                continue
            yield request
