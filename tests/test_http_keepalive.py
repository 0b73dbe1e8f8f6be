"""http-request's kept connections (components/http-request/keepalive.py) against a raw socket
server on 127.0.0.1 that decides when a connection closes: a request is sent again on a new
connection only when the server cannot have applied it, or when its method is idempotent."""

import http.client
import importlib.util
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.waiting import until

KEEPALIVE = Path(__file__).resolve().parents[1] / "components" / "http-request" / "keepalive.py"


def load_keepalive() -> ModuleType:
    """A fresh copy each time: the module keeps its idle connections in a class attribute."""
    spec = importlib.util.spec_from_file_location("keepalive_under_test", KEEPALIVE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScriptedServer:
    """Reads each request whole, then does what ``script`` says for the n-th request (from 1):
    ``answer`` (and keep the connection), ``answer-then-close`` or ``close-unanswered``."""

    def __init__(self, script: dict[int, str]) -> None:
        self.script = script
        self.seen: list[tuple[str, int]] = []  # (method, connection number) per request
        self.open_connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        number = 0
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            number += 1
            with self._lock:
                self.open_connections += 1
            threading.Thread(target=self._serve, args=(connection, number), daemon=True).start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        reader = connection.makefile("rb")
        try:
            while (request_line := reader.readline()).strip():
                length = 0
                while (header := reader.readline()).strip():
                    name, _, value = header.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                reader.read(length)
                with self._lock:
                    self.seen.append((request_line.split()[0].decode(), number))
                    action = self.script.get(len(self.seen), "answer")
                if action == "close-unanswered":
                    return
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
                if action == "answer-then-close":
                    return
        finally:
            reader.close()
            connection.close()
            with self._lock:
                self.open_connections -= 1

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def opener_and_server() -> Iterator[tuple[ModuleType, list[ScriptedServer]]]:
    servers: list[ScriptedServer] = []
    yield load_keepalive(), servers
    for server in servers:
        server.close()


def send(keepalive: ModuleType, server: ScriptedServer, method: str) -> int:
    request = urllib.request.Request(server.url + "/x", data=b"{}" if method == "POST" else None, method=method)
    with keepalive.build_opener().open(request, timeout=5) as response:
        response.read()
        return int(response.status)


async def test_a_connection_the_server_closed_while_idle_is_not_used(opener_and_server) -> None:
    keepalive, servers = opener_and_server
    server = ScriptedServer({1: "answer-then-close"})
    servers.append(server)
    assert send(keepalive, server, "POST") == 200
    await until(lambda: server.open_connections == 0, "the server closed the kept connection")
    assert send(keepalive, server, "POST") == 200
    assert server.seen == [("POST", 1), ("POST", 2)], "sent once, on a new connection"


async def test_a_kept_connection_is_reused(opener_and_server) -> None:
    keepalive, servers = opener_and_server
    server = ScriptedServer({})
    servers.append(server)
    for _ in range(3):
        assert send(keepalive, server, "GET") == 200
    assert server.seen == [("GET", 1)] * 3


async def test_a_post_the_server_may_have_applied_is_never_sent_again(opener_and_server) -> None:
    """The server read the whole POST on a kept connection and closed it without an answer."""
    keepalive, servers = opener_and_server
    server = ScriptedServer({2: "close-unanswered"})
    servers.append(server)
    assert send(keepalive, server, "POST") == 200
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        send(keepalive, server, "POST")
    assert server.seen == [("POST", 1), ("POST", 1)], "not repeated on a new connection"


async def test_an_idempotent_request_is_sent_again_on_a_new_connection(opener_and_server) -> None:
    keepalive, servers = opener_and_server
    server = ScriptedServer({2: "close-unanswered"})
    servers.append(server)
    assert send(keepalive, server, "GET") == 200
    assert send(keepalive, server, "GET") == 200
    assert server.seen == [("GET", 1), ("GET", 1), ("GET", 2)]
