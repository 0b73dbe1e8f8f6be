"""Flow definitions: create (POST), update (PUT), list, read any version.

POST refuses an id that exists (409) so a typo cannot overwrite another flow; PUT creates or
updates. Either way a definition identical to the latest version (same ``Flow.revision()``)
stores nothing and keeps the version number. Both save and publish in one call; drafts, which
are saved without being published, are in api/routes/drafts.py.
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api import flow_listing
from api.bodies import parse_json, read_body
from api.errors import ApiError
from api.flow_lookup import load_flow, missing_flow
from api.publishing import reach_what_runs
from api.responses import CamelModel
from api.services import Services, ServicesDep
from api.store import FlowExists, SaveOutcome, StoredFlow
from flows.model import MAX_VERSION, Flow
from flows.validation import FlowInvalid, Problem, credential_problems, parse_flow

router = APIRouter(tags=["flows"])
FLOW_BODY = {"requestBody": {"required": True, "description": "a flow definition (see the Flow schema)",
                             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Flow"}}}}}


class FlowSummary(CamelModel):
    id: str
    name: str
    version: int
    type: str
    trigger_type: str
    revision: str
    created_at: str


class FlowSaved(FlowSummary):
    created: bool
    changed: bool
    flow: Flow


class FlowVersion(CamelModel):
    version: int
    name: str
    revision: str
    created_at: str


class FlowVersions(CamelModel):
    id: str
    versions: list[FlowVersion]


class FlowList(CamelModel):
    flows: list[flow_listing.FlowListItem]


@router.post("/flows", status_code=201, response_model=FlowSaved, openapi_extra=FLOW_BODY,
             responses={409: {"description": "a flow with this id exists: use PUT"}, 422: {"description": "invalid"}})
async def create_flow(request: Request, response: Response, services: ServicesDep) -> FlowSaved:
    flow = await read_definition(request, services)
    try:
        outcome = await asyncio.to_thread(services.store.save, flow, create_only=True)
    except FlowExists:
        raise ApiError(409, f"flow '{flow.id}' exists already; change it with PUT /flows/{flow.id} "
                            "(or choose another id)") from None
    response.headers["Location"] = f"/flows/{flow.id}"
    return saved_body(outcome)


@router.put("/flows/{flow_id}", response_model=FlowSaved, openapi_extra=FLOW_BODY,
            responses={201: {"description": "created"}, 422: {"description": "invalid"}})
async def put_flow(flow_id: str, request: Request, response: Response,
                   services: ServicesDep) -> FlowSaved:
    flow = await read_definition(request, services, flow_id)
    outcome = await asyncio.to_thread(services.store.save, flow, on_new_version=services.flow_states.carry_over)
    await reach_what_runs(services, outcome)
    if outcome.created:
        response.status_code = 201
        response.headers["Location"] = f"/flows/{flow.id}"
    return saved_body(outcome)


@router.get("/flows", response_model=FlowList)
async def list_flows(services: ServicesDep) -> FlowList:
    """Every flow (also those with only a draft) with its active version and state."""
    return FlowList(flows=await flow_listing.list_flows(services))


@router.get("/flows/{flow_id}", response_model=Flow,
            responses={404: {"description": "unknown flow or version, or a flow with only a draft"}})
async def get_flow(flow_id: str, response: Response, services: ServicesDep,
                   version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None) -> Flow:
    """The active (or the given) version's definition (round-trips through PUT); its revision is the ETag."""
    stored = await load_flow(services, flow_id, version, draft_only_status=404)
    response.headers["ETag"] = f'"{stored.revision}"'
    return stored.flow


@router.get("/flows/{flow_id}/versions", response_model=FlowVersions)
async def flow_versions(flow_id: str, services: ServicesDep) -> FlowVersions:
    stored = await asyncio.to_thread(services.store.versions, flow_id)
    if not stored:
        raise missing_flow(services, flow_id)
    return FlowVersions(id=flow_id, versions=[
        FlowVersion(version=s.version, name=s.flow.name, revision=s.revision, created_at=s.created_at) for s in stored])


async def read_definition(request: Request, services: Services, path_id: str | None = None) -> Flow:
    """The body as a valid flow (FlowInvalid, a 422, lists every problem); ``path_id`` is the URL's id."""
    data: Any = parse_json(await read_body(request, services.settings.max_body_bytes), "the flow definition")
    if path_id is not None and isinstance(data, dict):
        data.setdefault("id", path_id)
        if data["id"] != path_id:
            raise FlowInvalid("(request body)", [Problem(
                where="id", problem=f"the body says id '{data['id']}' but the URL says '{path_id}'; make them equal")])
    flow = parse_flow(data, services.catalog, source="(request body)")
    problems = await missing_references(services, flow)
    if problems:
        raise FlowInvalid("(request body)", problems)
    return flow


async def missing_references(services: Services, flow: Flow) -> list[Problem]:
    """The secret and credentials the flow names that are not stored (any more)."""
    problems = []
    auth = flow.webhook_auth
    if auth is not None and auth.secret is not None and not await asyncio.to_thread(services.secrets.exists,
                                                                                     auth.secret):
        problems.append(Problem(
            where="webhook_auth.secret", problem=f"no secret '{auth.secret}' is stored; store it first with "
                                                 f"PUT /secrets/{auth.secret} (GET /secrets lists them)"))
    if any(step.credential is not None for step in flow.every_step):
        problems += credential_problems(flow, await asyncio.to_thread(services.credentials.components))
    return problems


def _summary(stored: StoredFlow) -> FlowSummary:
    flow = stored.flow
    return FlowSummary(id=flow.id, name=flow.name, version=flow.version, type=flow.type,
                       trigger_type=flow.trigger.type, revision=stored.revision, created_at=stored.created_at)


def saved_body(outcome: SaveOutcome) -> FlowSaved:
    return FlowSaved(**_summary(outcome.stored).model_dump(), created=outcome.created, changed=outcome.changed,
                     flow=outcome.stored.flow)
