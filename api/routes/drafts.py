"""Drafts and publishing: a flow's draft is saved (validated as PUT /flows/{id} validates) without
running; POST /flows/{id}/publish makes it the next version, the active one, or makes an earlier
version active again (a rollback, stored as a new version). Publishing reaches what runs
(api/publishing.py), as PUT /flows/{id} does.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import Field

from api.errors import ApiError
from api.flow_lookup import missing_flow, unknown_flow
from api.publishing import reach_what_runs
from api.responses import CamelModel
from api.routes.definitions import FLOW_BODY, FlowSaved, missing_references, read_definition, saved_body
from api.services import Services, ServicesDep
from api.store import SaveOutcome, StoredDraft
from flows.model import MAX_VERSION, Flow

router = APIRouter(tags=["drafts and publishing"])


class DraftBody(CamelModel):
    id: str
    draft: Flow = Field(description="the draft's definition; its version is the one a publish would give it "
                                    "when it was saved")
    revision: str
    saved_at: str


class PublishRequest(CamelModel):
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION,
                                description="make this earlier version active again (a rollback); without it, "
                                            "the draft is published")


class FlowPublished(FlowSaved):
    previous_version: int | None = Field(description="the version active before (null: there was none)")


@router.put("/flows/{flow_id}/draft", response_model=DraftBody, openapi_extra=FLOW_BODY,
            responses={201: {"description": "created: the flow did not exist"}, 422: {"description": "invalid"}})
async def save_draft(flow_id: str, request: Request, response: Response, services: ServicesDep) -> DraftBody:
    """Create or replace the flow's draft; it never runs. A new flow id makes a flow with only a
    draft, which takes no messages until it is published."""
    flow = await read_definition(request, services, flow_id)
    saved = await asyncio.to_thread(services.store.save_draft, flow)
    if saved.created:
        response.status_code = 201
        response.headers["Location"] = f"/flows/{flow_id}/draft"
    return _draft_body(saved.draft)


@router.get("/flows/{flow_id}/draft", response_model=DraftBody, responses={404: {"description": "no draft"}})
async def get_draft(flow_id: str, services: ServicesDep) -> DraftBody:
    draft = await asyncio.to_thread(services.store.draft, flow_id)
    if draft is None:
        raise _no_draft(services, flow_id, 404)
    return _draft_body(draft)


@router.delete("/flows/{flow_id}/draft", status_code=204, responses={404: {"description": "unknown flow"}})
async def delete_draft(flow_id: str, services: ServicesDep) -> Response:
    """The draft is gone (also when there was none); the published versions are untouched."""
    if not await asyncio.to_thread(services.store.delete_draft, flow_id) and services.flows.latest(flow_id) is None:
        raise unknown_flow(flow_id)
    return Response(status_code=204)


@router.post("/flows/{flow_id}/publish", response_model=FlowPublished,
             responses={404: {"description": "unknown flow or version"}, 409: {"description": "nothing to publish"}})
async def publish(flow_id: str, services: ServicesDep,
                  request: Annotated[PublishRequest | None, Body()] = None) -> FlowPublished:
    """No body: the draft becomes the next version, the active one, and is removed (a draft equal to
    the active version stores nothing: ``changed: false``). ``{"version": N}``: version N's content
    becomes the next version (a rollback; the draft is kept). Running flows take the new version
    as PUT /flows/{id} makes them; switching between ordinary and real-time is a publish too."""
    carry_over = services.flow_states.carry_over
    if request is not None and request.version is not None:
        earlier = await asyncio.to_thread(services.store.get, flow_id, request.version)
        problems = await missing_references(services, earlier.flow) if earlier is not None else []
        if problems:  # deleted since: a secret or credential may go once no active version or draft names it
            raise ApiError(422, f"version {request.version} of flow '{flow_id}' names what is not stored any more; "
                                "store it again (see problems), or roll back to another version", problems)
        outcome = await asyncio.to_thread(services.store.republish, flow_id, request.version, carry_over)
        if outcome is None:
            raise _no_version(services, flow_id, request.version)
    else:
        outcome = await asyncio.to_thread(services.store.publish_draft, flow_id, carry_over)
        if outcome is None:
            raise _no_draft(services, flow_id, 409)
    await reach_what_runs(services, outcome)
    return _published(outcome)


def _no_draft(services: Services, flow_id: str, status: int) -> ApiError:
    if services.flows.latest(flow_id) is None:
        return unknown_flow(flow_id)
    return ApiError(status, f"flow '{flow_id}' has no draft; save one with PUT /flows/{flow_id}/draft (GET "
                            f"/flows/{flow_id} is the active version, to edit), or make an earlier version active "
                            f"again with POST /flows/{flow_id}/publish {{\"version\": N}}")


def _no_version(services: Services, flow_id: str, version: int) -> ApiError:
    if services.flows.latest(flow_id) is None:
        return missing_flow(services, flow_id)
    return ApiError(404, f"flow '{flow_id}' has no version {version} to make active again; "
                         f"GET /flows/{flow_id}/versions lists them")


def _draft_body(draft: StoredDraft) -> DraftBody:
    return DraftBody(id=draft.flow.id, draft=draft.flow, revision=draft.revision, saved_at=draft.saved_at)


def _published(outcome: SaveOutcome) -> FlowPublished:
    previous = outcome.previous.version if outcome.previous is not None else None
    return FlowPublished(**saved_body(outcome).model_dump(), previous_version=previous)
