"""JSON lines on the protocol channel.

The runtime owns the process's original stdout for protocol events only. Everything else that
would write to fd 1 (an author's print(), a library, a subprocess) is redirected to stderr, so
stray output can never corrupt the protocol stream.

Events are written in bursts, not one write each: every write crosses the container engine
(containerd's shim, dockerd, the platform's socket), and a batch of a hundred messages made six
hundred of them. Buffered events go out before the runtime waits for more input, and at most
``FLUSH_SECONDS`` after they were sent while step code goes on working (a timer thread), so the
platform never waits long on an event that was ready.
"""

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

FLUSH_SECONDS = 0.02
READ_BYTES = 256 * 1024


class Transport:
    def __init__(self, events_out: BinaryIO, requests_in_fd: int) -> None:
        self._out = events_out
        self._in_fd = requests_in_fd
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._flushed_at = time.monotonic()
        self._timer: threading.Timer | None = None

    @classmethod
    def take_over_stdio(cls) -> "Transport":
        """Keep fd 1 for events, point fd 1 and sys.stdout at stderr for everyone else."""
        sys.stdout.flush()
        protocol_fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        return cls(os.fdopen(protocol_fd, "wb", buffering=0), sys.stdin.fileno())

    def send(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        with self._lock:
            self._pending.append(line.encode("utf-8") + b"\n")
            if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._out.write(data)
        self._flushed_at = time.monotonic()

    def requests(self) -> Iterator[dict[str, Any] | ValueError]:
        """Yield each request line parsed (a line that is not a JSON object yields a ValueError);
        what was sent goes out before each wait for input, and at the end."""
        for raw in self._lines():
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
        self.flush()

    def _lines(self) -> Iterator[bytes]:
        partial: list[bytes] = []  # a line longer than one read, in pieces: joined once, when it ends
        while True:
            self.flush()
            chunk = os.read(self._in_fd, READ_BYTES)
            if not chunk:
                if partial:
                    yield b"".join(partial)
                return
            start = 0
            while (end := chunk.find(b"\n", start)) != -1:
                partial.append(chunk[start:end])
                yield b"".join(partial)
                partial.clear()
                start = end + 1
            if start < len(chunk):
                partial.append(chunk[start:])
