"""Concurrent webhook senders that cost the machine little, so the benchmark measures Conflux.

httpx spent ≈ 8 ms of CPU per request with 50 connections in one client (its pool is not built
for that), more than the API it was measuring; each sender here is one keep-alive HTTP/1.1
connection on asyncio streams, writing a request and reading its answer, ≈ 0.05 ms a request.
"""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    accepted: list[int] = field(default_factory=list)  # the ``n`` of every message answered 202
    statuses: Counter[int | str] = field(default_factory=Counter)  # answers by status, or exception name


async def send_for(port: int, path: str, seconds: float, senders: int, numbers: Iterator[int]) -> LoadResult:
    """POST ``{"n": n}`` to ``path`` from ``senders`` connections until ``seconds`` have passed."""
    result = LoadResult()
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(_sender(port, path, stop_at, numbers, result) for _ in range(senders)))
    return result


async def _sender(port: int, path: str, stop_at: float, numbers: Iterator[int], result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            n = next(numbers)
            body = json.dumps({"n": n}).encode()
            writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            try:
                status = await _read_answer(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                result.statuses[type(exc).__name__] += 1
                return  # the connection is gone; this sender stops, the others go on
            result.statuses[status] += 1
            if status == 202:
                result.accepted.append(n)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status
