"""Connections kept open between requests: in a warm container (a real-time flow) the same target
is called message after message, and a new TCP (and TLS) connection each time cost more than the
request itself. urllib closes every connection (it sends ``Connection: close``); these handlers
keep one per target and timeout instead, and leave everything else (redirects, errors) to urllib.

A kept connection may have been closed by the server while idle. One that shows it (the socket
reads as closed) is dropped before use; a request that still fails on a kept connection is sent
once more on a new one only when the server cannot have applied it (sending failed) or when its
method is idempotent (RFC 9110, 9.2.2): a POST that may have reached the server is never repeated
here; it fails, and the platform's retry policy decides.
"""

import http.client
import select
import threading
import urllib.error
import urllib.request
from typing import Any

STALE = (http.client.RemoteDisconnected, http.client.ImproperConnectionState, BrokenPipeError,
         ConnectionResetError, ConnectionAbortedError)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

Key = tuple[str, str, float | None]


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle kept connection has nothing to read: readable means the server closed it (or wrote
    something unasked), so it cannot carry another request."""
    if connection.sock is None:
        return True
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)


class _Idle:
    """The connections not in use, each with the response it answered last: it can carry another
    request only once that response was read to its end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[Key, list[tuple[http.client.HTTPConnection, http.client.HTTPResponse]]] = {}

    def take(self, key: Key) -> http.client.HTTPConnection | None:
        with self._lock:
            kept = self._by_key.get(key) or []
            while kept:
                connection, last_response = kept.pop()
                if last_response.isclosed() and not _closed_by_peer(connection):
                    return connection
                connection.close()  # closed by the server, or its last answer not read to the end
        return None

    def give(self, key: Key, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        with self._lock:
            self._by_key.setdefault(key, []).append((connection, response))


class _KeepAlive:
    _idle = _Idle()

    def _open_kept(self, scheme: str, connection_class: type[http.client.HTTPConnection],
                   req: urllib.request.Request, **connection_args: Any) -> http.client.HTTPResponse:
        if not req.host:
            raise urllib.error.URLError("no host given")
        key = (scheme, req.host, req.timeout)
        headers = {**{k: v for k, v in req.headers.items()}, **req.unredirected_hdrs}
        headers = {name.title(): value for name, value in headers.items()}
        method = req.get_method()
        connection = self._idle.take(key)
        reused = connection is not None
        while True:
            if connection is None:
                connection = connection_class(req.host, timeout=req.timeout, **connection_args)
            sent = False
            try:
                connection.request(method, req.selector, req.data, headers,
                                   encode_chunked=req.has_header("Transfer-encoding"))
                sent = True
                response = connection.getresponse()
            except STALE:
                connection.close()
                if reused and (not sent or method in IDEMPOTENT):  # closed while idle: once more, anew
                    connection, reused = None, False
                    continue
                raise
            except OSError as exc:
                connection.close()
                raise urllib.error.URLError(exc) from exc
            if not response.will_close:
                self._idle.give(key, connection, response)
            response.url = req.get_full_url()  # what urllib's callers expect of a response
            response.msg = response.reason  # urllib's convention, as in its do_open
            return response


class KeepAliveHTTPHandler(_KeepAlive, urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        if getattr(req, "_tunnel_host", None):
            return super().http_open(req)  # through a proxy: urllib's own way
        return self._open_kept("http", http.client.HTTPConnection, req)


class KeepAliveHTTPSHandler(_KeepAlive, urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        if getattr(req, "_tunnel_host", None):
            return super().https_open(req)
        return self._open_kept("https", http.client.HTTPSConnection, req,
                               context=getattr(self, "_context", None))


def build_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(KeepAliveHTTPHandler(), KeepAliveHTTPSHandler())
