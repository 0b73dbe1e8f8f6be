"""Concurrent webhook senders that cost the machine little, so the benchmark measures Conflux.

httpx spent ≈ 8 ms of CPU per request with 50 connections in one client (its pool is not built
for that), more than the API it was measuring; each sender here is one keep-alive HTTP/1.1
connection on asyncio streams, writing a request and reading its answer, ≈ 0.05 ms a request.
"""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
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


Answered = Callable[[int, int | str, dict[str, str]], None]
"""Told of each request: its ``n``, and its status (or the name of the exception that ended it) and headers."""


async def send_paced(port: int, path: str, rate: float, seconds: float, first_n: int, connections: int,
                     answered: Answered) -> float:
    """``rate`` POSTs a second of ``{"n": n}`` for ``seconds``, request ``i`` (n = first_n + i) planned at
    ``i / rate``, over ``connections`` keep-alive connections; how late the latest went out, in seconds."""
    planned = iter(range(int(rate * seconds)))
    began = time.perf_counter()
    late = 0.0

    async def connection() -> None:
        nonlocal late
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in planned:
                at = began + index / rate
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                late = max(late, time.perf_counter() - at)
                n = first_n + index
                writer.write(_request(path, n))
                try:
                    status, headers = await read_answer(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    answered(n, type(exc).__name__, {})
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                answered(n, status, headers)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return late


def _request(path: str, n: int) -> bytes:
    body = json.dumps({"n": n}).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


async def _sender(port: int, path: str, stop_at: float, numbers: Iterator[int], result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            n = next(numbers)
            writer.write(_request(path, n))
            try:
                status, _ = await read_answer(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                result.statuses[type(exc).__name__] += 1
                return  # the connection is gone; this sender stops, the others go on
            result.statuses[status] += 1
            if status == 202:
                result.accepted.append(n)
    finally:
        writer.close()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and headers (names lower-cased) of one answer; its body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {name.strip().lower().decode(): value.strip().decode() for name, _, value in
               (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(head[9:12]), headers
