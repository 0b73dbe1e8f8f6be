"""Real-time flows: start (warm up), stop (drain), status and failures of the flow's long-lived
workflow (id ``realtime:<flow id>``); messages reach it through the signal bridge.

The API's flow state (api/flow_states.py) is written first, so a stopped flow refuses new
messages at once (409) while its workflow drains what it accepted before.
"""

import asyncio

from fastapi import APIRouter
from temporalio.client import WorkflowHandle

from api.errors import ApiError
from api.flow_lookup import load_flow
from api.flow_workflows import control, running_workflow
from api.services import Services, ServicesDep
from flows.model import Flow
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import (
    FailedMessage,
    RealtimeControl,
    RealtimeStatus,
    realtime_workflow_id,
)

router = APIRouter(tags=["real-time flows"])


async def start_realtime(services: Services, flow: Flow) -> RealtimeStatus:
    """Start the flow's workflow (or wake a stopped one) with this version; it warms up first."""
    await asyncio.to_thread(services.flow_states.set, flow.id, "running")
    handle = await services.signals.start_realtime(flow)
    return await _control(handle, RealtimeControl(action="start", flow=flow))


async def stop_realtime(services: Services, flow: Flow) -> RealtimeStatus:
    """New messages are refused from now on; the ones accepted before are finished first."""
    await asyncio.to_thread(services.flow_states.set, flow.id, "stopped")
    return await _control(await realtime_workflow(services, flow.id), RealtimeControl(action="stop"))


async def retire_realtime(services: Services, flow_id: str) -> None:
    """The flow is ordinary now (a publish switched it): its workflow finishes the messages it
    accepted, then stops its containers. The API's state row is left as it is: the flow goes on
    taking messages, as an ordinary flow."""
    try:
        handle = await realtime_workflow(services, flow_id)
    except ApiError:
        return  # no workflow runs: nothing was accepted that is not done
    await _control(handle, RealtimeControl(action="stop"))


async def publish_realtime(services: Services, flow: Flow) -> bool:
    """A new version reaches the running flow: warmed up beside the old one, then switched to."""
    if flow.type != "realtime" or services.flows.state(flow.id) is None:
        return False
    try:
        handle = await realtime_workflow(services, flow.id)
    except ApiError:
        return False  # its workflow is gone: the next start takes the new version
    await _control(handle, RealtimeControl(action="publish", flow=flow))
    return True


@router.get("/flows/{flow_id}/realtime", response_model=RealtimeStatus)
async def realtime_status(flow_id: str, services: ServicesDep) -> RealtimeStatus:
    """State (starting, running, stopping, stopped), version, counters, recent latency and failures."""
    flow = (await load_flow(services, flow_id)).flow
    return await (await realtime_workflow(services, flow.id)).query(RealtimeFlowWorkflow.status)


@router.get("/flows/{flow_id}/realtime/failures", response_model=list[FailedMessage])
async def realtime_failures(flow_id: str, services: ServicesDep) -> list[FailedMessage]:
    """The most recent failed messages (newest first): step, error, the input it failed on, version."""
    flow = (await load_flow(services, flow_id)).flow
    return await (await realtime_workflow(services, flow.id)).query(RealtimeFlowWorkflow.failures)


def require_running(flow: Flow, state: str | None) -> None:
    """409, with the way out, for a message to a real-time flow that is not running."""
    if state != "running":
        told = "was never started" if state is None else "is stopped"
        raise ApiError(409, f"real-time flow '{flow.id}' {told}, so it accepts no messages; start it with "
                            f"POST /flows/{flow.id}/start (it warms up, and takes messages meanwhile)")


async def realtime_workflow(services: Services, flow_id: str) -> WorkflowHandle:
    """The flow's running long-lived workflow, or 409 saying how to start it."""
    return await running_workflow(services, realtime_workflow_id(flow_id), flow_id,
                                  f"the workflow of real-time flow '{flow_id}'")


async def _control(handle: WorkflowHandle, request: RealtimeControl) -> RealtimeStatus:
    status: RealtimeStatus = await control(handle, RealtimeFlowWorkflow.control, request)
    return status
