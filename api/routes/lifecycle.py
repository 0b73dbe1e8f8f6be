"""Start and stop, for every flow that can be started: a real-time flow (its long-lived workflow
warms up, or drains and stops) and a polling flow (its poller)."""

from fastapi import APIRouter

from api.flow_lookup import load_flow
from api.routes.pollers import PollerStatus, start_polling, stop_polling
from api.routes.realtime import start_realtime, stop_realtime
from api.services import ServicesDep
from workflows.realtime_models import RealtimeStatus

router = APIRouter(tags=["lifecycle"])


@router.post("/flows/{flow_id}/start", response_model=RealtimeStatus | PollerStatus)
async def start_flow(flow_id: str, services: ServicesDep) -> RealtimeStatus | PollerStatus:
    """A real-time flow warms up its containers (``starting``, then ``running``) and takes messages
    meanwhile; a polling flow starts polling with its latest version."""
    flow = (await load_flow(services, flow_id)).flow
    if flow.type == "realtime":
        return await start_realtime(services, flow)
    return await start_polling(flow_id, services)


@router.post("/flows/{flow_id}/stop", response_model=RealtimeStatus | PollerStatus)
async def stop_flow(flow_id: str, services: ServicesDep) -> RealtimeStatus | PollerStatus:
    """A real-time flow refuses new messages at once (409) and finishes the ones it accepted, then
    stops its containers; a polling flow polls no more (a poll under way finishes)."""
    flow = (await load_flow(services, flow_id)).flow
    if flow.type == "realtime":
        return await stop_realtime(services, flow)
    return await stop_polling(flow_id, services)
