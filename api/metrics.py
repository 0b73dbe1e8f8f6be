"""The API's metrics: every message a flow was sent, accepted or refused and why, request-reply
outcomes, and how long intake took. Served at ``GET /metrics`` (api/routes/metrics.py).

An ASGI middleware sees every intake request (``/hooks/<flow>...``, ``/hook/<flow>...``,
``POST /flows/<flow>/executions``) and counts it by its answer; what the status alone cannot
tell (a duplicate, 429 for the rate limit or for the in-flight cap, a request-reply outcome) is
noted on the request's :class:`IntakeNote` by :func:`note_accepted` (one call in each intake
route) and by the ApiError handler this module wraps. Labels stay bounded: an unknown flow's
requests (404) count under ``flow="(unknown)"``, whatever path they named.
"""

import contextvars
import functools
import inspect
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.responses import Response

from api.errors import ApiError
from api.intake import Accepted
from conflux.log_context import LogFields, set_fields, unbind_fields

REGISTRY = CollectorRegistry(auto_describe=True)
UNKNOWN_FLOW = "(unknown)"
INTAKE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

MESSAGES = Counter("conflux_api_messages", "messages sent to a flow, by outcome: accepted, duplicate or the refusal",
                   ["flow", "outcome"], registry=REGISTRY)
REPLIES = Counter("conflux_api_replies", "request-reply answers, by the flow's reply status", ["flow", "status"],
                  registry=REGISTRY)
INTAKE_SECONDS = Histogram("conflux_api_intake_duration_seconds",
                           "an intake request from arrival to answer (mode 'reply': waits for the flow's answer)",
                           ["flow", "mode"], buckets=INTAKE_BUCKETS, registry=REGISTRY)

INTAKE_PATH = re.compile(r"^/(?:hooks?/(?P<hook>[^/]+)(?:/.*)?|flows/(?P<flow>[^/]+)/executions/?)$")
STATUS_OUTCOMES = {400: "bad_request", 404: "unknown_flow", 409: "not_running", 413: "too_large", 422: "invalid",
                   429: "rate_limit", 503: "unavailable"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class IntakeNote:
    """What the route and the error handler learnt about one intake request."""

    status: int = 500  # until the answer starts: an exception that escapes is a 500
    outcome: str | None = None
    reply: str | None = None


_note: contextvars.ContextVar[IntakeNote | None] = contextvars.ContextVar("conflux_intake_note", default=None)


def note_accepted(accepted: Accepted) -> None:
    """Call in an intake route once ``accept_message`` returned: duplicate or accepted, and the
    request-reply outcome if the caller waited for one."""
    note = _note.get()
    if note is not None:
        note.outcome = "duplicate" if accepted.duplicate else "accepted"
        note.reply = accepted.reply.status if accepted.reply is not None else None


def refusal_reason(error: ApiError) -> str:
    """The outcome label of an intake request refused with ``error``: its own ``reason`` where one
    status has several causes, else the status's."""
    if error.reason is not None:
        return error.reason
    if error.status >= 500:
        return STATUS_OUTCOMES.get(error.status, "error")
    return STATUS_OUTCOMES.get(error.status, "refused")


def outcome_of(status: int, note: IntakeNote) -> str:
    if note.outcome is not None:
        return note.outcome
    if status >= 500:
        return STATUS_OUTCOMES.get(status, "error")
    return STATUS_OUTCOMES.get(status, "accepted" if status < 300 else "refused")


class IntakeMetrics:
    """The ASGI middleware: cheap on the hot path (one regex, a counter, a histogram)."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        flow_id = _intake_flow(scope)
        if flow_id is None:
            await self.app(scope, receive, send)
            return
        started, note = time.perf_counter(), IntakeNote()
        note_token = _note.set(note)
        message_id = _header(scope, b"idempotency-key", b"x-request-id")
        fields_token = set_fields(LogFields(flow=flow_id, message_id=message_id))

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                note.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            unbind_fields(fields_token)
            _note.reset(note_token)
            _count(flow_id, note, time.perf_counter() - started)


def install_intake_metrics(app: FastAPI) -> None:
    """The middleware, and the ApiError handler (install_error_handlers' own) noting the reason."""
    app.add_middleware(IntakeMetrics)
    answer = app.exception_handlers[ApiError]

    async def noting(request: Request, error: Exception) -> Response:
        note = _note.get()
        if note is not None and isinstance(error, ApiError):
            note.outcome = refusal_reason(error)
        answered = answer(request, error)
        return await answered if inspect.isawaitable(answered) else answered

    app.add_exception_handler(ApiError, noting)


def _count(flow_id: str, note: IntakeNote, seconds: float) -> None:
    if note.status == 404:
        flow_id = UNKNOWN_FLOW
    _messages(flow_id, outcome_of(note.status, note)).inc()
    if note.reply is not None:
        REPLIES.labels(flow_id, note.reply).inc()
    _intake_seconds(flow_id, "accept" if note.reply is None else "reply").observe(seconds)


@functools.cache  # a label set's child, kept (labels are bounded): Counter.labels takes a lock per call
def _messages(flow_id: str, outcome: str) -> Counter:
    return MESSAGES.labels(flow_id, outcome)


@functools.cache
def _intake_seconds(flow_id: str, mode: str) -> Histogram:
    return INTAKE_SECONDS.labels(flow_id, mode)


def _intake_flow(scope: Scope) -> str | None:
    if scope["type"] != "http":
        return None
    match = INTAKE_PATH.match(scope["path"])
    if match is None:
        return None
    if match["hook"] is not None:
        return match["hook"]
    return match["flow"] if scope["method"] == "POST" else None


def _header(scope: Scope, *names: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name in names:
            return bytes(value).decode("latin-1")
    return None
