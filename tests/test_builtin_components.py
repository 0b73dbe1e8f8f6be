"""The built-in components (and the example greeter) run through the real runtime.

Each test starts ``python -m conflux_runtime DIR`` as a subprocess, writes request lines and
reads the events, as a one-shot step container would be driven; HTTP components talk to real
servers on 127.0.0.1. The test marked ``docker`` builds the images and runs containers (skipped
without a Docker engine on a developer machine, a failure in CI: see conftest.docker_engine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from catalog.components import BUILTIN_DIR, LIB_DIR, CatalogError, load_catalog, load_component
from flows.model import Step
from flows.step_output import runs_in_platform, webhook_trigger_output
from steps.protocol import Message

REPO = Path(__file__).resolve().parents[1]
GREETER = REPO / "examples" / "components" / "greeter"
BUILTINS = {"aggregate", "code", "filter", "http-request", "poll-http", "router", "splitter", "transform", "webhook"}


# --- driving the runtime ---------------------------------------------------------------------

def run_component(directory: Path | str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """One-shot: start the runtime, write the requests, close stdin, return the events after ready."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(LIB_DIR), os.environ.get("PYTHONPATH", "")])}
    stdin = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run([sys.executable, "-m", "conflux_runtime", str(directory)], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "ready", events[0]
    assert [e["id"] for e in events if e["type"] == "end"] == [r["id"] for r in requests], events
    return events[1:]


def process(component: str, function: str, body: Any = None, cfg: dict[str, Any] | None = None,
            snapshot: dict[str, Any] | None = None, **msg: Any) -> list[dict[str, Any]]:
    """Events (without end) of one process request to a built-in."""
    request: dict[str, Any] = {"id": "r1", "type": "process", "function": function,
                               "msg": {"id": "m1", "body": body, **msg}, "cfg": cfg or {}}
    if snapshot is not None:
        request["snapshot"] = snapshot
    return [e for e in run_component(BUILTIN_DIR / component, request) if e["type"] != "end"]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def bodies(events: list[dict[str, Any]]) -> list[Any]:
    return [e["msg"]["body"] for e in events if e["type"] == "data"]


# --- loopback HTTP servers -------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    client_port: int = 0


Route = Callable[[Seen], tuple[int, dict[str, str], bytes]]


@dataclass
class LoopbackServer:
    routes: dict[str, Route]
    seen: list[Seen] = field(default_factory=list)
    keep_alive: bool = False  # answer as HTTP/1.1, so a client may send more on the same connection
    close_silently: bool = False  # close each connection after one answer, without saying so


    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers),
                               self.rfile.read(length), self.client_address[1])
                server.seen.append(request)
                route = server.routes.get(parts.path) or server.routes.get("*")
                status, headers, body = route(request) if route else (404, {}, b"no route")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if server.close_silently:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        Handler.protocol_version = "HTTP/1.1" if self.keep_alive else "HTTP/1.0"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(routes: dict[str, Route], *, keep_alive: bool = False, close_silently: bool = False) -> LoopbackServer:
        servers.append(LoopbackServer(routes, keep_alive=keep_alive, close_silently=close_silently))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def json_reply(status: int, value: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(value).encode()


def refused_url() -> str:
    """A loopback URL where nothing listens: the port was just free."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


# --- webhook ---------------------------------------------------------------------------------

def test_webhook_passes_the_request_on_as_the_body() -> None:
    request: dict[str, Any] = {"method": "POST", "url": "http://localhost/hook/f1/orders", "query": {"a": "1"},
               "path": "orders", "headers": {"content-type": "application/json"}}
    events = process("webhook", "receive", {"order": 7}, **request)
    assert bodies(events) == [{"body": {"order": 7}, **request}]


def test_webhook_fills_missing_request_fields() -> None:
    assert bodies(process("webhook", "receive", "text")) == [
        {"body": "text", "headers": {}, "method": "POST", "query": {}, "path": "", "url": ""}
    ]


@pytest.mark.parametrize("fields", [
    {"method": "PUT", "url": "http://localhost/hooks/f1/orders?a=1", "query": {"a": "1"}, "path": "orders",
     "headers": {"content-type": "application/json"}},
    {},
], ids=["every field", "no fields"])
def test_the_platform_emits_for_the_webhook_trigger_what_its_component_does(fields: dict[str, Any]) -> None:
    """The built-in trigger runs in the platform (flows/step_output.py); its component stays the reference."""
    [by_component] = bodies(process("webhook", "receive", {"order": 7}, **fields))
    trigger = Step(id="hook", component="webhook", function="receive")
    by_platform = webhook_trigger_output(Message(id="m1", body={"order": 7}, **fields), trigger, passthrough=True)
    assert by_platform.body == by_component


def test_only_the_builtin_webhook_trigger_without_a_mapping_runs_in_the_platform() -> None:
    assert runs_in_platform(Step(id="hook", component="webhook", function="receive"))
    assert not runs_in_platform(Step(id="hook", component="webhook", function="receive",
                                     mapping={"body": "{'order': body.order}"}))
    assert not runs_in_platform(Step(id="hook", component="code", function="run"))


# --- http-request ----------------------------------------------------------------------------

@pytest.fixture
def target(serve: Callable[[dict[str, Route]], LoopbackServer]) -> LoopbackServer:
    def echo(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return json_reply(200, {"method": seen.method, "path": seen.path, "query": seen.query,
                                "content_type": seen.headers.get("Content-Type"),
                                "token": seen.headers.get("X-Token"), "body": seen.body.decode()})

    def slow(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        time.sleep(2)
        return json_reply(200, {})

    return serve({
        "/json": lambda seen: json_reply(200, {"ok": True, "items": [1, 2]}),
        "/text": lambda seen: (200, {"Content-Type": "text/plain; charset=utf-8"}, "plain ✓".encode()),
        "/missing": lambda seen: (404, {"Content-Type": "text/plain"}, b"no such order"),
        "/down": lambda seen: (503, {"Retry-After": "7"}, b"maintenance"),
        "/busy": lambda seen: (429, {}, b"slow down"),
        "/slow": slow,
        "*": echo,
    })


def test_http_request_200_json(target: LoopbackServer) -> None:
    [event] = process("http-request", "request", {}, {"url": target.url + "/json"})
    assert event["type"] == "data"
    response = event["msg"]["body"]
    assert response["status"] == 200
    assert response["body"] == {"ok": True, "items": [1, 2]}
    assert response["headers"]["Content-Type"].startswith("application/json")


def test_http_request_text_response_stays_text(target: LoopbackServer) -> None:
    [response] = bodies(process("http-request", "request", {}, {"url": target.url + "/text"}))
    assert response["body"] == "plain ✓"


def test_http_request_fills_url_placeholders_and_sends_the_body_as_json(target: LoopbackServer) -> None:
    body = {"order": {"id": "a/b c"}, "qty": 2}
    cfg = {"url": target.url + "/orders/{order.id}?x=1", "method": "put", "headers": {"X-Token": "t"}}
    [response] = bodies(process("http-request", "request", body, cfg))
    echoed = response["body"]
    assert echoed["method"] == "PUT"
    assert echoed["path"] == "/orders/a%2Fb%20c"
    assert echoed["query"] == {"x": ["1"]}
    assert echoed["content_type"] == "application/json"
    assert echoed["token"] == "t"
    assert json.loads(echoed["body"]) == body


def test_http_request_configured_body_means_post(target: LoopbackServer) -> None:
    [response] = bodies(process("http-request", "request", {"ignored": 1},
                                {"url": target.url + "/echo", "body": {"fixed": True}}))
    assert response["body"]["method"] == "POST"
    assert json.loads(response["body"]["body"]) == {"fixed": True}


def test_http_request_get_sends_no_body(target: LoopbackServer) -> None:
    [response] = bodies(process("http-request", "request", {"a": 1}, {"url": target.url + "/echo"}))
    assert response["body"]["method"] == "GET"
    assert response["body"]["body"] == ""


def test_http_request_404_is_an_error_with_the_response_excerpt(target: LoopbackServer) -> None:
    [event] = process("http-request", "request", {}, {"url": target.url + "/missing?api_key=secret"})
    assert event["type"] == "error"
    message = event["error"]["message"]
    assert "404" in message and "no such order" in message
    assert "secret" not in message


def test_http_request_503_rebounds_with_retry_after(target: LoopbackServer) -> None:
    [event] = process("http-request", "request", {}, {"url": target.url + "/down"})
    assert event["type"] == "rebound"
    assert "503" in event["error"]["message"]
    assert event["delay"] == 7


def test_http_request_429_rebounds(target: LoopbackServer) -> None:
    assert kinds(process("http-request", "request", {}, {"url": target.url + "/busy"})) == ["rebound"]


def test_http_request_connection_refused_rebounds() -> None:
    [event] = process("http-request", "request", {}, {"url": refused_url()})
    assert event["type"] == "rebound"
    assert "refused" in event["error"]["message"].lower()


def test_http_request_timeout_rebounds(target: LoopbackServer) -> None:
    [event] = process("http-request", "request", {}, {"url": target.url + "/slow", "timeout": 0.3})
    assert event["type"] == "rebound"
    assert "timed out" in event["error"]["message"].lower()


def test_http_request_missing_placeholder_field_is_an_error(target: LoopbackServer) -> None:
    [event] = process("http-request", "request", {"other": 1}, {"url": target.url + "/orders/{id}"})
    assert event["type"] == "error"
    assert "{id}" in event["error"]["message"]
    assert target.seen == []


def http_requests(url: str, count: int, method: str = "POST") -> list[dict[str, Any]]:
    """``count`` requests from one warm runtime process, one after another."""
    requests = [{"id": f"r{n}", "type": "process", "function": "request", "msg": {"body": {"n": n}},
                 "cfg": {"url": url, "method": method}} for n in range(count)]
    return [e for e in run_component(BUILTIN_DIR / "http-request", *requests) if e["type"] != "end"]


def test_http_request_keeps_its_connection_for_the_next_message(serve: Callable[..., LoopbackServer]) -> None:
    target = serve({"*": lambda seen: json_reply(200, {"n": json.loads(seen.body)["n"]})}, keep_alive=True)
    events = http_requests(target.url + "/orders", 3)
    assert [body["body"] for body in bodies(events)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len({seen.client_port for seen in target.seen}) == 1, "one connection for all three"


def test_http_request_sends_again_when_a_kept_connection_was_closed(serve: Callable[..., LoopbackServer]) -> None:
    """PUT: idempotent, so sent again even when the close raced the request (tests/test_http_keepalive.py
    has the POST, which is not)."""
    target = serve({"*": lambda seen: json_reply(200, {"n": json.loads(seen.body)["n"]})}, keep_alive=True,
                   close_silently=True)
    events = http_requests(target.url + "/orders", 3, method="PUT")
    assert kinds(events) == ["data"] * 3, events
    assert sorted(json.loads(seen.body)["n"] for seen in target.seen) == [0, 1, 2]
    assert len({seen.client_port for seen in target.seen}) == 3


def test_http_request_sends_the_idempotency_key(target: LoopbackServer) -> None:
    def sent_key(cfg: dict[str, Any], key: str | None = "orders/m1/call") -> dict[str, str]:
        target.seen.clear()
        msg: dict[str, Any] = {"idempotencyKey": key} if key else {}
        assert kinds(process("http-request", "request", {}, {"url": target.url + "/x", **cfg}, **msg)) == ["data"]
        return {name.lower(): value for name, value in target.seen[0].headers.items()}

    assert sent_key({})["idempotency-key"] == "orders/m1/call"
    assert sent_key({"idempotencyHeader": "X-Request-Key"})["x-request-key"] == "orders/m1/call"
    assert "idempotency-key" not in sent_key({"idempotencyHeader": "off"})
    assert "idempotency-key" not in sent_key({}, key=None)
    assert sent_key({"headers": {"Idempotency-Key": "mine"}})["idempotency-key"] == "mine", "a configured one wins"
    [bad] = process("http-request", "request", {}, {"url": target.url + "/x", "idempotencyHeader": "no spaces"})
    assert bad["type"] == "error" and "idempotencyHeader" in bad["error"]["message"]


def test_http_request_rejects_non_http_urls() -> None:
    [event] = process("http-request", "request", {}, {"url": "file:///etc/passwd"})
    assert event["type"] == "error" and "http://" in event["error"]["message"]


# --- transform -------------------------------------------------------------------------------

def test_transform_evaluates_with_steps_and_msg() -> None:
    expression = '{"total": $sum(lines.(qty * price)), "customer": $steps.lookup.name, "id": $msg.id}'
    body = {"lines": [{"qty": 2, "price": 5}, {"qty": 1, "price": 3}]}
    events = process("transform", "transform", body, {"expression": expression},
                     passthrough={"lookup": {"name": "Ada"}})
    assert bodies(events) == [{"total": 13, "customer": "Ada", "id": "m1"}]


def test_transform_serves_many_messages_with_one_expression() -> None:
    requests = [{"id": f"r{n}", "type": "process", "function": "transform", "msg": {"body": {"n": n}},
                 "cfg": {"expression": "n * 10"}} for n in range(3)]
    events = run_component(BUILTIN_DIR / "transform", *requests)
    assert bodies(events) == [0, 10, 20]


def test_transform_parse_error_names_the_expression() -> None:
    [event] = process("transform", "transform", {}, {"expression": "{ broken: "})
    assert event["type"] == "error"
    assert "{ broken: " in event["error"]["message"]
    assert "invalid JSONata" in event["error"]["message"]


def test_transform_missing_expression_is_an_error() -> None:
    assert kinds(process("transform", "transform", {}, {})) == ["error"]


# --- code ------------------------------------------------------------------------------------

def test_code_returns_one_body() -> None:
    code = "lines = msg['body']['lines']\nreturn {'count': len(lines), 'step': cfg['label']}"
    answer = process("code", "run", {"lines": [1, 2, 3]}, {"code": code, "label": "x"})
    assert bodies(answer) == [{"count": 3, "step": "x"}]


def test_code_yield_emits_each_item_and_can_snapshot() -> None:
    code = "for item in msg['body']:\n    yield {'item': item}\nemit.snapshot({'seen': len(msg['body'])})"
    events = process("code", "run", ["a", "b"], {"code": code})
    assert kinds(events) == ["data", "data", "snapshot"]
    assert bodies(events) == [{"item": "a"}, {"item": "b"}]
    assert events[-1]["snapshot"] == {"seen": 2}


def test_code_can_await() -> None:
    code = "import asyncio\nawait asyncio.sleep(0)\nreturn 'awaited'"
    assert bodies(process("code", "run", None, {"code": code})) == ["awaited"]


def test_code_syntax_error_names_the_line() -> None:
    [event] = process("code", "run", {}, {"code": "x = 1\nif x\n    return x"})
    assert event["type"] == "error"
    assert "line 2" in event["error"]["message"]


def test_code_rebound_is_predefined() -> None:
    [event] = process("code", "run", {}, {"code": "raise Rebound('target busy')"})
    assert event["type"] == "rebound" and event["error"]["message"] == "target busy"


def test_code_exception_is_an_error_with_the_users_line() -> None:
    [event] = process("code", "run", {}, {"code": "x = 1\nreturn x / 0"})
    assert event["type"] == "error"
    assert event["error"]["name"] == "ZeroDivisionError"
    assert "line 2, in run" in event["error"]["stack"]


# --- splitter --------------------------------------------------------------------------------

def test_splitter_emits_one_message_per_element() -> None:
    body = {"order": {"lines": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}}
    events = process("splitter", "split", body, {"path": "order.lines"})
    assert bodies(events) == [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]


def test_splitter_empty_array_emits_nothing() -> None:
    assert process("splitter", "split", {"items": []}, {"path": "items"}) == []


def test_splitter_single_object_or_value_is_one_message_and_nothing_is_an_error() -> None:
    """elastic.io's semantics for one object (a path matching one element gives that element); a
    primitive is one message too (elastic.io fails it: docs/component-guide.md)."""
    assert bodies(process("splitter", "split", {"order": {"id": 1}}, {"path": "order"})) == [{"id": 1}]
    assert bodies(process("splitter", "split", {"order": {"id": 1}}, {"path": "order.id"})) == [1]
    [event] = process("splitter", "split", {"order": {}}, {"path": "nothing.here"})
    assert event["type"] == "error" and "selected nothing" in event["error"]["message"]


# --- poll-http -------------------------------------------------------------------------------

@dataclass
class RecordSource:
    """An API that answers records with timestamp >= since (inclusive), as the trigger expects."""

    records: list[dict[str, Any]] = field(default_factory=list)
    outage: bool = False

    def route(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if self.outage:
            return 503, {}, b"down for maintenance"
        since = seen.query.get("since", [None])[0]
        if since is None:
            return json_reply(200, self.records)
        return json_reply(200, [r for r in self.records if instant(r["updated_at"]) >= instant(since)])


def instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Poller:
    """Plays the platform: one one-shot container per poll, carrying the snapshot between polls."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.snapshot: dict[str, Any] = {}
        self.delivered: list[Any] = []

    def poll(self) -> list[dict[str, Any]]:
        events = process("poll-http", "poll", None, self.cfg, snapshot=self.snapshot)
        snapshots = [e for e in events if e["type"] == "snapshot"]
        assert len(snapshots) <= 1 and (not snapshots or events[-1] is snapshots[0]), kinds(events)
        if snapshots:
            self.snapshot = snapshots[0]["snapshot"]
        self.delivered += [body["id"] for body in bodies(events)]
        return events


def test_poll_http_delivers_each_record_once_across_polls(serve: Callable[[dict[str, Route]], LoopbackServer]) -> None:
    source = RecordSource([
        {"id": 2, "updated_at": "2024-05-01T10:00:05Z"},
        {"id": 1, "updated_at": "2024-05-01T10:00:00Z"},
    ])
    server = serve({"/records": source.route})
    poller = Poller({"url": server.url + "/records"})

    assert kinds(poller.poll()) == ["data", "data", "snapshot"]
    assert poller.delivered == [1, 2]  # timestamp order, not the source's order
    assert poller.snapshot == {"since": "2024-05-01T10:00:05Z", "ids_at_since": [2]}
    assert "since" not in server.seen[0].query

    # a record with the boundary timestamp arrives late; another is written with a +02:00 offset
    source.records += [{"id": 3, "updated_at": "2024-05-01T10:00:05Z"},
                       {"id": 4, "updated_at": "2024-05-01T12:00:09+02:00"}]
    poller.poll()
    assert server.seen[-1].query["since"] == ["2024-05-01T10:00:05Z"]
    assert poller.delivered == [1, 2, 3, 4]
    assert poller.snapshot == {"since": "2024-05-01T12:00:09+02:00", "ids_at_since": [4]}

    # the same instant as the boundary, spelled in UTC: new id, delivered; the old one not again
    source.records.append({"id": 5, "updated_at": "2024-05-01T10:00:09Z"})
    poller.poll()
    assert poller.delivered == [1, 2, 3, 4, 5]
    assert poller.snapshot["ids_at_since"] == [4, 5]

    assert poller.poll() == []  # nothing new: no data, no snapshot
    assert poller.delivered == [1, 2, 3, 4, 5]


def test_poll_http_outage_rebounds_and_keeps_the_snapshot(serve: Callable[[dict[str, Route]], LoopbackServer]) -> None:
    source = RecordSource([{"id": "a", "updated_at": "2024-05-01T10:00:00Z"}])
    server = serve({"/records": source.route})
    poller = Poller({"url": server.url + "/records"})
    poller.poll()
    before = dict(poller.snapshot)

    source.outage = True
    source.records.append({"id": "b", "updated_at": "2024-05-01T11:00:00Z"})
    [event] = poller.poll()
    assert event["type"] == "rebound" and "503" in event["error"]["message"]
    assert poller.snapshot == before

    poller.cfg = {"url": refused_url()}
    assert kinds(poller.poll()) == ["rebound"]
    assert poller.snapshot == before

    source.outage = False
    poller.cfg = {"url": server.url + "/records"}
    poller.poll()
    assert poller.delivered == ["a", "b"]


def test_poll_http_numbers_and_records_path(serve: Callable[[dict[str, Route]], LoopbackServer]) -> None:
    page = {"data": {"items": [{"key": "x", "ts": 20}, {"key": "y", "ts": 10}, {"key": "z", "ts": 20}]}}
    server = serve({"/api": lambda seen: json_reply(200, page)})  # ignores since: the trigger filters
    cfg = {"url": server.url + "/api?limit=5", "since_param": "after", "timestamp_field": "ts",
           "id_field": "key", "records_path": "data.items"}
    first = process("poll-http", "poll", None, cfg, snapshot={})
    assert bodies(first) == page["data"]["items"][1:2] + [page["data"]["items"][0], page["data"]["items"][2]]
    assert first[-1]["snapshot"] == {"since": 20, "ids_at_since": ["x", "z"]}
    assert process("poll-http", "poll", None, cfg, snapshot=first[-1]["snapshot"]) == []
    assert server.seen[-1].query == {"limit": ["5"], "after": ["20"]}


def test_poll_http_4xx_is_an_error(serve: Callable[[dict[str, Route]], LoopbackServer]) -> None:
    server = serve({"/api": lambda seen: (401, {}, b"bad token")})
    [event] = process("poll-http", "poll", None, {"url": server.url + "/api"}, snapshot={})
    assert event["type"] == "error" and "401" in event["error"]["message"]


# --- the example component -------------------------------------------------------------------

def test_greeter_example_process_and_service_calls() -> None:
    cfg = {"language": "fr", "api_key": "greet-123"}
    events = run_component(
        GREETER,
        {"id": "p", "type": "process", "function": "greet", "msg": {"body": {"name": "Ada"}}, "cfg": cfg},
        {"id": "e", "type": "process", "function": "greet", "msg": {"body": {}}},
        {"id": "l", "type": "process", "function": "greet", "msg": {"body": {"name": "later"}}},
        {"id": "v1", "type": "verifyCredentials", "cfg": cfg},
        {"id": "v2", "type": "verifyCredentials", "cfg": {"api_key": "wrong"}},
        {"id": "m", "type": "getMetaModel", "function": "greet", "cfg": cfg},
        {"id": "s", "type": "selectModel", "function": "greet", "method": "languages", "cfg": cfg},
        {"id": "c1", "type": "process", "function": "count", "msg": {"body": {}}, "snapshot": {"count": 41}},
        {"id": "c2", "type": "process", "function": "count", "msg": {"body": {}}},
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["type"] != "end":
            by_id.setdefault(event["id"], []).append(event)
    assert bodies(by_id["p"]) == [{"greeting": "Bonjour, Ada!", "language": "fr"}]
    assert kinds(by_id["e"]) == ["error"] and "name" in by_id["e"][0]["error"]["message"]
    assert kinds(by_id["l"]) == ["rebound"] and by_id["l"][0]["delay"] == 5
    assert by_id["v1"][0]["result"] == {"verified": True}
    assert by_id["v2"][0]["result"]["verified"] is False
    assert by_id["m"][0]["result"]["out"]["properties"]["language"] == {"const": "fr"}
    assert by_id["s"][0]["result"] == {"en": "English", "fr": "Français", "de": "Deutsch"}
    assert bodies(by_id["c1"]) == [{"count": 42}]
    assert bodies(by_id["c2"]) == [{"count": 43}]  # the runtime kept the snapshot between requests


# --- catalog ---------------------------------------------------------------------------------

def test_catalog_lists_the_builtins_and_user_components() -> None:
    catalog = load_catalog([GREETER], base_image="conflux/base:bookworm")
    assert set(catalog) == BUILTINS | {"greeter"}
    poll = catalog["poll-http"]
    assert poll.image == f"conflux/poll-http:0.1.0-{poll.digest[:12]}"
    assert poll.trigger_type("poll") == "polling"
    assert catalog["webhook"].trigger_type("receive") == "webhook"
    assert set(catalog["greeter"].functions) == {"greet", "count"}
    assert catalog["transform"].function_spec("transform")["main"] == "transform.py:process"
    with pytest.raises(KeyError, match="has: transform"):
        catalog["transform"].function_spec("nope")


def test_digest_follows_content_and_base_image(tmp_path: Path) -> None:
    copy = shutil.copytree(GREETER, tmp_path / "greeter")
    first = load_component(copy, "conflux/base:bookworm")
    assert load_component(copy, "conflux/base:bookworm").digest == first.digest
    assert load_component(copy, "python:3.11-slim").digest != first.digest
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "greet.cpython-311.pyc").write_bytes(b"cache")
    assert load_component(copy, "conflux/base:bookworm").digest == first.digest
    (copy / "greet.py").write_text((copy / "greet.py").read_text() + "\n# changed\n")
    assert load_component(copy, "conflux/base:bookworm").digest != first.digest


def test_broken_descriptor_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "component.json").write_text('{"title": "x",')
    with pytest.raises(CatalogError, match=r"broken/component\.json is not valid JSON"):
        load_catalog([tmp_path])
    (broken / "component.json").write_text('{"title": "x", "version": "1", "actions": {"a": {"main": "gone.py"}}}')
    with pytest.raises(CatalogError, match="gone.py"):
        load_component(broken)


# --- images ----------------------------------------------------------------------------------

def docker_run(image: str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    stdin = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run(["docker", "run", "-i", "--rm", "--network", "none", image], input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.docker
def test_images_build_and_run(docker_engine: Any) -> None:
    """Built from scratch when missing (the base image too); runs as in production, without network."""
    from catalog.build import build_all

    results = {r.name: r for r in build_all(component_dirs=[GREETER], report=None)}
    assert set(results) == BUILTINS | {"greeter"}
    events = docker_run(results["transform"].image, {
        "id": "t", "type": "process", "function": "transform",
        "msg": {"body": {"a": [1, 2, 3]}}, "cfg": {"expression": "$sum(a)"},
    })
    assert kinds(events) == ["ready", "data", "end"] and bodies(events) == [6]  # vendored jsonata works
    events = docker_run(results["code"].image, {
        "id": "c", "type": "process", "function": "run", "msg": {"body": None},
        "cfg": {"code": "import os\nreturn os.getuid()"},
    })
    assert bodies(events) == [65534]  # never root
    events = docker_run(results["greeter"].image, {
        "id": "g", "type": "process", "function": "greet", "msg": {"body": {"name": "Ada"}}, "cfg": {"language": "de"},
    })
    assert bodies(events) == [{"greeting": "Hallo, Ada!", "language": "de"}]
