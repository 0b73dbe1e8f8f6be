"""A tiny HTTP server on 127.0.0.1 for tests: scripted answers and a record of what it received."""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, object]


class LoopbackServer:
    """``routes`` maps a path to a function of (method, path, query, body) -> (status, json_body).
    ``received`` and ``received_headers`` record every request, in the order they came; a body
    that is not JSON (an OTLP export's protobuf) is recorded as its bytes."""

    def __init__(self, routes: dict[str, Callable[[str, str, str, object], Answer]]) -> None:
        self.routes = routes
        self.received: list[tuple[str, str, object]] = []
        self.received_headers: list[dict[str, str]] = []  # names in lower case
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = _parsed(raw)
                server.received.append((self.command, self.path, body))
                server.received_headers.append({name.lower(): value for name, value in self.headers.items()})
                route = server.routes.get(path)
                status, answer = route(self.command, path, query, body) if route else (404, {"error": "no route"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _parsed(raw: bytes) -> object:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Sink:
    """What the flows delivered: each body the last step posted, by message id."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""
        self.server: LoopbackServer | None = None

    def route(self, _method: str, _path: str, _query: str, body: object) -> tuple[int, object]:
        with self.lock:
            self.bodies.append(body if isinstance(body, dict) else {"raw": body})
        return 200, {"ok": True}

    def of(self, flow_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for body in self.bodies if body.get("flow") == flow_id]

    def keys_of(self, flow_id: str) -> list[str]:
        """The Idempotency-Key headers of the flow's deliveries."""
        assert self.server is not None
        return [headers.get("idempotency-key", "") for (_, _, body), headers
                in zip(self.server.received, self.server.received_headers, strict=True)
                if isinstance(body, dict) and body.get("flow") == flow_id]
