"""Start and stop, for every flow: a real-time flow (its long-lived workflow warms up, or drains
and stops), a polling flow (its poller), and an ordinary webhook flow (whether the API accepts
its messages: runs already started go on)."""

import asyncio
from typing import Literal

from fastapi import APIRouter

from api.flow_lookup import load_flow
from api.responses import CamelModel
from api.routes.pollers import PollerStatus, start_polling, stop_polling
from api.routes.realtime import start_realtime, stop_realtime
from api.services import Services, ServicesDep
from flows.model import Flow
from workflows.realtime_models import RealtimeStatus

router = APIRouter(tags=["lifecycle"])


class WebhookFlowStatus(CamelModel):
    """An ordinary webhook flow: ``running`` takes messages (the state of a flow never stopped),
    ``stopped`` answers them 409; runs already started go on either way."""

    flow_id: str
    version: int
    state: Literal["running", "stopped"]


FlowStatus = RealtimeStatus | PollerStatus | WebhookFlowStatus


@router.post("/flows/{flow_id}/start", response_model=FlowStatus)
async def start_flow(flow_id: str, services: ServicesDep) -> FlowStatus:
    """A real-time flow warms up its containers (``starting``, then ``running``) and takes messages
    meanwhile; a polling flow starts polling with its latest version; an ordinary webhook flow
    takes messages again."""
    flow = (await load_flow(services, flow_id)).flow
    if flow.type == "realtime":
        return await start_realtime(services, flow)
    if flow.trigger.type == "webhook":
        return await _set_webhook_state(services, flow, "running")
    return await start_polling(flow_id, services)


@router.post("/flows/{flow_id}/stop", response_model=FlowStatus)
async def stop_flow(flow_id: str, services: ServicesDep) -> FlowStatus:
    """A real-time flow refuses new messages at once (409) and finishes the ones it accepted, then
    stops its containers; a polling flow polls no more (a poll under way finishes); an ordinary
    webhook flow refuses new messages (409), and its runs already started, or waiting in its
    intake, go on."""
    flow = (await load_flow(services, flow_id)).flow
    if flow.type == "realtime":
        return await stop_realtime(services, flow)
    if flow.trigger.type == "webhook":
        return await _set_webhook_state(services, flow, "stopped")
    return await stop_polling(flow_id, services)


async def _set_webhook_state(services: Services, flow: Flow,
                             state: Literal["running", "stopped"]) -> WebhookFlowStatus:
    await asyncio.to_thread(services.flow_states.set, flow.id, state)
    return WebhookFlowStatus(flow_id=flow.id, version=flow.version, state=state)
