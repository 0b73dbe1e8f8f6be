"""Webhooks: ``/hooks/{flowId}[/extra/path]`` (and elastic.io's ``/hook/...``) turn an HTTP request
into a message and start the flow on it, answering 202 at once.

Idempotency as for executions: the Idempotency-Key or X-Request-Id header is the message id, so a
sender's retry does not run the flow twice.
"""

from fastapi import APIRouter, Request, Response
from pydantic import Field
from starlette.datastructures import QueryParams

from api.bodies import multi_dict, parse_webhook_body, read_body
from api.errors import ApiError
from api.flow_lookup import load_flow
from api.intake import accept_message
from api.metrics import note_accepted
from api.replies import REPLY_RESPONSES, reply_response, requested_reply
from api.responses import CamelModel, ExecutionId, WorkflowId
from api.runs import message_id
from api.services import ServicesDep
from api.webhook_auth import check_webhook_auth, credential_fields
from flows.model import Flow
from steps.protocol import Message

router = APIRouter(tags=["webhooks"])
METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"]
PREFIXES = ("/hooks", "/hook")
DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
THANK_YOU = "thank you"


class HookAccepted(CamelModel):
    request_id: str = Field(description="the message id: the Idempotency-Key or X-Request-Id header, else a new UUID")
    execution_id: ExecutionId
    workflow_id: WorkflowId
    message: str = THANK_YOU
    duplicate: bool = False


async def receive(request: Request, flow_id: str, services: ServicesDep) -> HookAccepted | Response:
    """Accept one request for a webhook flow: 404 unknown flow, 409 not a webhook flow, 413 too large;
    with request-reply (``?reply=`` or the flow's ``reply``), the flow's answer (api/replies.py)."""
    extra = str(request.path_params.get("extra", ""))
    flow = (await load_flow(services, flow_id)).flow
    _require_webhook(flow)
    reply = requested_reply(flow, request.query_params)
    data = await read_body(request, services.settings.max_body_bytes)
    auth = flow.webhook_auth
    if auth is not None and auth.secret is not None:
        check_webhook_auth(flow, services.flows.secret(auth.secret), request.headers, request.query_params, data)
    key_header, key_query = credential_fields(auth)
    url, query = request.url, request.query_params
    if key_query is not None:
        url = url.remove_query_params(key_query)
        query = QueryParams(url.query)
    message = Message(
        id=message_id(request),
        body=parse_webhook_body(data, request.headers.get("content-type")),
        headers=request_headers(request, key_header),
        method=request.method,
        url=str(url),
        query=multi_dict(query.multi_items()),
        path=extra,
    )
    started = await accept_message(services, flow, message, reply)
    note_accepted(started)
    if reply is not None and started.reply is not None:
        return reply_response(started.reply, started.execution_id, started.workflow_id, services.settings, reply)
    return HookAccepted(request_id=started.message_id, execution_id=started.execution_id,
                        workflow_id=started.workflow_id, duplicate=started.duplicate)


def request_headers(request: Request, key_header: str | None = None) -> dict[str, str]:
    """Lower-cased names, repeated headers joined; credentials (and the flow's API key header) are
    not passed into the flow."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        name = name.lower()
        if name in DROPPED_HEADERS or name == key_header:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _require_webhook(flow: Flow) -> None:
    if flow.trigger.type != "webhook":
        raise ApiError(409, f"flow '{flow.id}' has a {flow.trigger.type} trigger, so it takes no webhook requests; "
                            f"run it now with POST /flows/{flow.id}/executions", reason="wrong_trigger")


# ``receive`` reads the extra path from the request (one handler for both shapes), so the spec is told of it
EXTRA_PATH = {"parameters": [{"name": "extra", "in": "path", "required": True, "schema": {"type": "string"},
                              "description": "the rest of the path, the message's `path`"}]}


def _add_routes() -> None:
    """One route per prefix, method and shape, so each has its own OpenAPI operation id; only
    ``/hooks`` is documented, ``/hook`` is the elastic.io spelling of the same thing."""
    for prefix in PREFIXES:
        for method in METHODS:
            for suffix, name, extra in (("", "hook", None), ("/{extra:path}", "hook_extra_path", EXTRA_PATH)):
                router.add_api_route(f"{prefix}/{{flow_id}}{suffix}", receive, methods=[method], status_code=202,
                                     response_model=HookAccepted, include_in_schema=prefix == "/hooks",
                                     responses=REPLY_RESPONSES, openapi_extra=extra,
                                     operation_id=f"{name}_{method.lower()}{prefix.replace('/', '_')}")


_add_routes()
