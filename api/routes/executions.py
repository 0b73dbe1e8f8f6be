"""Run a flow on a message (POST /flows/{id}/executions) and see what a run did (GET /executions/{id})."""

from typing import Any

from fastapi import APIRouter, Request, Response

from api.bodies import parse_json, read_body
from api.flow_lookup import load_flow
from api.intake import accept_message
from api.metrics import note_accepted
from api.replies import REPLY_RESPONSES, reply_response, requested_reply
from api.responses import CamelModel, ExecutionId, WorkflowId
from api.run_status import ExecutionStatus, execution_status
from api.runs import links, message_id
from api.services import ServicesDep
from steps.protocol import Message

router = APIRouter(tags=["executions"])
ANY_JSON_BODY = {"requestBody": {"required": False, "description": "the message body: any JSON (empty: {})",
                                 "content": {"application/json": {"schema": {}}}}}


class ExecutionStarted(CamelModel):
    execution_id: ExecutionId
    workflow_id: WorkflowId
    run_id: str | None
    request_id: str
    duplicate: bool
    links: dict[str, str]


@router.post("/flows/{flow_id}/executions", status_code=202, response_model=ExecutionStarted,
             openapi_extra=ANY_JSON_BODY, responses=REPLY_RESPONSES)
async def start_execution(flow_id: str, request: Request, services: ServicesDep) -> ExecutionStarted | Response:
    """Start the latest version of the flow on one message; a repeated Idempotency-Key (or
    X-Request-Id) answers with the first run and starts nothing (``duplicate: true``). With
    ``?reply=first|last`` (or the flow's ``reply``) the answer is the flow's."""
    stored = await load_flow(services, flow_id)
    reply = requested_reply(stored.flow, request.query_params)
    body: Any = parse_json(await read_body(request, services.settings.max_body_bytes))
    started = await accept_message(services, stored.flow, Message(id=message_id(request), body=body), reply)
    note_accepted(started)
    if reply is not None and started.reply is not None:
        return reply_response(started.reply, started.execution_id, started.workflow_id, services.settings, reply)
    return ExecutionStarted(execution_id=started.execution_id, workflow_id=started.workflow_id,
                            run_id=started.run_id, request_id=started.message_id, duplicate=started.duplicate,
                            links=links(services.settings, started.workflow_id))


@router.get("/executions/{execution_id:path}", response_model=ExecutionStatus,
            responses={404: {"description": "unknown execution"}})
async def get_execution(execution_id: str, services: ServicesDep) -> ExecutionStatus:
    status = await execution_status(await services.client(), execution_id)
    status.links = links(services.settings, status.workflow_id)
    return status
