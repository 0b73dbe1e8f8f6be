"""The loopback HTTP target a benchmark's last step posts to, in a process of its own, so that
receiving a thousand posts a second neither shares a GIL with the load generator nor costs a
thread per connection.

``python -m bench.sink``: prints ``port <p>`` once, then ``<n> <arrival>`` for every body with an
integer ``n`` (``arrival``: time.perf_counter(), the same clock in every process of the machine).
In the benchmark, ``Sink`` starts it and collects those lines.
"""

import asyncio
import json
import subprocess
import sys
import threading
import time

FLUSH_SECONDS = 0.002
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Sink:
    """Arrival time of each posted body, by its ``n``."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.process = subprocess.Popen([sys.executable, "-m", "bench.sink"], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline().split()[1])
        self.url = f"http://127.0.0.1:{port}"
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            n, arrived = line.split()
            self.arrived.setdefault(int(n), float(arrived))

    async def all_within(self, numbers: list[int], seconds: float) -> float | None:
        """Seconds until every one of ``numbers`` arrived; None if they had not within ``seconds``."""
        began = time.perf_counter()
        while not all(n in self.arrived for n in numbers):
            if time.perf_counter() - began > seconds:
                return None
            await asyncio.sleep(0.05)
        return time.perf_counter() - began

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, out: list[str],
                            arrived_event: asyncio.Event) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.perf_counter()
            headers = {name.strip().lower(): value.strip() for name, _, value in
                       (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)}
            body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
            try:
                n = json.loads(body).get("n")
            except (ValueError, AttributeError):
                n = None
            if isinstance(n, int):
                out.append(f"{n} {arrived}\n")
                arrived_event.set()
            writer.write(ANSWER)
            if headers.get(b"connection", b"").lower() == b"close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _flush_forever(out: list[str], arrived: asyncio.Event) -> None:
    """Arrivals go out in small bursts: a write per post would cost more than the post."""
    while True:
        await arrived.wait()
        await asyncio.sleep(FLUSH_SECONDS)
        arrived.clear()
        sys.stdout.write("".join(out))
        sys.stdout.flush()
        out.clear()


async def _main() -> None:
    out: list[str] = []
    arrived = asyncio.Event()
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, out, arrived), "127.0.0.1", 0,
                                        backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await _flush_forever(out, arrived)


if __name__ == "__main__":
    asyncio.run(_main())
