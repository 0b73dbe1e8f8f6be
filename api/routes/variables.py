"""Flow variables: read them, or change them without sending the whole definition.

A change is a new version of the flow (the active version with its ``variables`` replaced), made
and published as PUT /flows/{id} makes one, so the versions say which variables ran when. A
message uses the variables of the version its execution started on; a draft keeps its own.
"""

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import Field, field_validator

from api.flow_lookup import load_flow, missing_flow
from api.publishing import reach_what_runs
from api.responses import CamelModel
from api.routes.definitions import FlowSaved, saved_body
from api.services import ServicesDep
from flows.model import Flow, checked_variables

router = APIRouter(tags=["flows"])


class FlowVariables(CamelModel):
    id: str
    version: int = Field(description="the version these variables belong to")
    variables: dict[str, Any]


class VariablesChange(CamelModel):
    variables: dict[str, Any] = Field(description="every variable of the flow (replaces them all; {} removes them)")

    @field_validator("variables")
    @classmethod
    def _names(cls, variables: dict[str, Any]) -> dict[str, Any]:
        return checked_variables(variables)


@router.get("/flows/{flow_id}/variables", response_model=FlowVariables,
            responses={404: {"description": "unknown flow, or one with only a draft"}})
async def get_variables(flow_id: str, services: ServicesDep) -> FlowVariables:
    """The active version's variables ({} when it has none)."""
    stored = await load_flow(services, flow_id, draft_only_status=404)
    return FlowVariables(id=flow_id, version=stored.version, variables=stored.flow.variables or {})


@router.put("/flows/{flow_id}/variables", response_model=FlowSaved,
            responses={404: {"description": "unknown flow, or one with only a draft"},
                       422: {"description": "invalid variables"}})
async def put_variables(flow_id: str, change: VariablesChange, services: ServicesDep) -> FlowSaved:
    """Replace the variables: the active version with these variables becomes the next version and
    reaches what runs (the same variables again store nothing: ``changed: false``)."""
    variables = change.variables or None  # none left: the field goes, as if never set (the revision too)

    def with_variables(flow: Flow) -> Flow:
        return flow.model_copy(update={"variables": variables})

    outcome = await asyncio.to_thread(services.store.save_changed, flow_id, with_variables,
                                      services.flow_states.carry_over)
    if outcome is None:
        raise missing_flow(services, flow_id)
    await reach_what_runs(services, outcome)
    return saved_body(outcome)

