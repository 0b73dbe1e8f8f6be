"""Request-reply over HTTP: whether a request waits for the flow's answer, and the HTTP answer it gets.

A request waits when it asks (``?reply=first|last``, ``?timeout=`` seconds) or its flow's ``reply``
setting says so. The answer: a step's httpReply as the step gave it; the last step's output as
JSON (204 when the flow filtered the message out); 500 when the run failed; 504 when nothing came
within the timeout (the run goes on: follow it with the execution id); 409 for a real-time flow's
repeated message id. Every answer carries the execution id in ``X-Conflux-Execution-Id``.
"""

import json
import math
from collections.abc import Mapping
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from api.errors import ApiError
from api.runs import links
from api.settings import ApiSettings
from flows.model import Flow
from workflows.replies import FlowReply, ReplyRequest

REPLY_MODES = ("first", "last")
MAX_TIMEOUT_SECONDS = 300.0
EXECUTION_HEADER = "X-Conflux-Execution-Id"
# Set by the server for the body it sends; a step's own values would be wrong for it.
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"})
REPLY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "request-reply (?reply=first|last or the flow's reply): a step's httpReply (its own "
                         "status) or the last step's output", "content": {"application/json": {"schema": {}}}},
    204: {"description": "request-reply: the flow filtered the message out (no output)"},
    500: {"description": "request-reply: the run failed; error and executionId"},
    504: {"description": "request-reply: no answer within the timeout; the run goes on (executionId)"},
}


def requested_reply(flow: Flow, query: Mapping[str, str]) -> ReplyRequest | None:
    """What the caller waits for; None: the 202 at once. 400 for a ``reply`` or ``timeout`` that cannot be."""
    mode = query.get("reply")
    if mode is None and flow.reply is None:
        return None
    if mode is not None and mode not in REPLY_MODES:
        raise ApiError(400, f"?reply={mode!r} is not a reply mode: use 'first' (the first httpReply a step "
                            "emits) or 'last' (the last step's output)")
    settings = flow.reply
    timeout = settings.timeout if settings is not None else ReplyRequest().timeout_seconds
    if "timeout" in query:
        timeout = _timeout(query["timeout"])
    if mode is None:
        mode = settings.mode if settings is not None else "first"
    return ReplyRequest.model_validate({"mode": mode, "timeout_seconds": timeout})


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise ApiError(400, f"?timeout={text!r} is not a wait in seconds: use a number above 0 and at most "
                            f"{MAX_TIMEOUT_SECONDS:g}")
    return seconds


def reply_response(reply: FlowReply, execution_id: str, workflow_id: str, settings: ApiSettings,
                   request: ReplyRequest) -> Response:
    headers = {EXECUTION_HEADER: execution_id}
    if reply.status == "replied" and reply.http_reply is not None:
        return _step_reply(reply.http_reply.statusCode, reply.http_reply.headers, reply.http_reply.body, headers)
    if reply.status == "completed":
        if not reply.outputs:
            return Response(status_code=204, headers=headers)
        body = reply.outputs[0] if len(reply.outputs) == 1 else reply.outputs
        return JSONResponse(body, headers=headers)
    follow = {"executionId": execution_id, "links": links(settings, workflow_id)}
    if reply.status == "failed":
        return JSONResponse({"error": f"the flow failed: {reply.error}", **follow}, status_code=500, headers=headers)
    if reply.status == "duplicate":
        return JSONResponse({"error": f"message '{execution_id.partition(':')[2]}' was accepted before; its answer "
                                      "went to that request (a real-time flow keeps no answers): send a new "
                                      "Idempotency-Key to run it again", **follow}, status_code=409, headers=headers)
    return JSONResponse({"error": f"the flow gave no answer within {request.timeout_seconds:g} s; the run goes on: "
                                  "follow it with the execution id", **follow}, status_code=504, headers=headers)


def _step_reply(status: int, step_headers: Mapping[str, str], body: Any, headers: dict[str, str]) -> Response:
    """The httpReply as the step gave it: a string body as text, anything else as JSON."""
    if not 200 <= status <= 599:
        return JSONResponse({"error": f"a step replied with HTTP status {status}, which cannot be sent; its "
                                      "httpReply needs a statusCode from 200 to 599"}, status_code=502, headers=headers)
    kept = {name: value for name, value in step_headers.items() if name.lower() not in HOP_BY_HOP}
    named = {name.lower() for name in kept}
    if isinstance(body, str):
        content = body.encode()
        if "content-type" not in named:
            kept["content-type"] = "text/plain; charset=utf-8"
    elif body is None:
        content = b""
    else:
        content = json.dumps(body).encode()
        if "content-type" not in named:
            kept["content-type"] = "application/json"
    return Response(content=content, status_code=status, headers={**kept, **headers})
