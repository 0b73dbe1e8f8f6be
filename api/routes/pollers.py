"""Polling flows: start, stop, pause, resume, run now, and the trigger's snapshot.

Each polling flow has one PollingFlow workflow (id ``poll:<flow id>``) that keeps its state and
snapshot; these routes send it the ``control`` update and read its ``status`` query, and answer
with its status in camelCase (``PollerStatus``).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from api.errors import ApiError
from api.flow_lookup import load_flow
from api.flow_workflows import control, running_workflow
from api.responses import PollerStatus
from api.services import Services, ServicesDep
from flows.model import Flow
from workflows.models import PollingControl, PollingInput
from workflows.polling_flow import PollingFlowWorkflow
from workflows.search import flow_search_attributes

router = APIRouter(tags=["polling"])


def poller_id(flow_id: str) -> str:
    return f"poll:{flow_id}"


async def start_polling(flow_id: str, services: Services) -> PollerStatus:
    """Start (or restart) polling with the flow's latest version; the snapshot is kept
    (POST /flows/{id}/start, in api/routes/lifecycle.py)."""
    flow = (await load_flow(services, flow_id)).flow
    _require_polling(flow)
    client = await services.client()
    handle = await client.start_workflow(
        PollingFlowWorkflow.run, PollingInput(flow=flow), id=poller_id(flow.id),
        task_queue=services.settings.task_queue, search_attributes=flow_search_attributes(flow),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"{flow.name}: polls {_schedule_text(flow)}",
    )
    return await _control(handle, PollingControl(action="start", flow=flow))


async def stop_polling(flow_id: str, services: Services) -> PollerStatus:
    """No more polls; a poll under way finishes and its records are processed. The snapshot is kept
    (POST /flows/{id}/stop, in api/routes/lifecycle.py)."""
    return await _control(await _poller(services, flow_id), PollingControl(action="stop"))


def _control_route(name: str, path: str, request: PollingControl,
                   description: str) -> Callable[[str, Services], Awaitable[PollerStatus]]:
    """The route ``POST /flows/{flow_id}/<path>``, which sends the poller ``request``."""
    async def route(flow_id: str, services: ServicesDep) -> PollerStatus:
        return await _control(await _poller(services, flow_id), request)
    router.add_api_route(f"/flows/{{flow_id}}/{path}", route, methods=["POST"], response_model=PollerStatus,
                         name=name, description=description)
    return route


pause_polling = _control_route("pause_polling", "pause", PollingControl(action="pause"),
                               "No timed polls until resumed (run-now still polls).")
resume_polling = _control_route("resume_polling", "resume", PollingControl(action="resume"), "Timed polls again.")
poll_now = _control_route("poll_now", "run-now", PollingControl(action="run_now"),
                          "One poll at once, also while paused (not while stopped).")


@router.get("/flows/{flow_id}/polling", response_model=PollerStatus)
async def polling_status(flow_id: str, services: ServicesDep) -> PollerStatus:
    handle = await _poller(services, flow_id)
    return PollerStatus.of(await handle.query(PollingFlowWorkflow.status))


@router.get("/flows/{flow_id}/snapshot")
async def read_snapshot(flow_id: str, services: ServicesDep) -> dict[str, Any]:
    return (await polling_status(flow_id, services)).snapshot


@router.put("/flows/{flow_id}/snapshot", response_model=PollerStatus)
async def set_snapshot(flow_id: str, snapshot: Annotated[dict[str, Any], Body()],
                       services: ServicesDep) -> PollerStatus:
    """Replace the snapshot (e.g. to poll again from an earlier timestamp)."""
    return await _control(await _poller(services, flow_id), PollingControl(action="reset_snapshot", snapshot=snapshot))


@router.delete("/flows/{flow_id}/snapshot", response_model=PollerStatus)
async def reset_snapshot(flow_id: str, services: ServicesDep) -> PollerStatus:
    """Forget the snapshot: the next poll fetches everything the source has."""
    return await _control(await _poller(services, flow_id), PollingControl(action="reset_snapshot", snapshot={}))


async def publish_to_poller(services: Services, flow: Flow) -> bool:
    """A new version of a polling flow reaches its running poller (used from the next poll)."""
    if flow.trigger.type != "polling":
        return False
    try:
        handle = await _poller(services, flow.id)
    except ApiError:
        return False
    await _control(handle, PollingControl(action="publish", flow=flow))
    return True


async def _poller(services: Services, flow_id: str) -> WorkflowHandle:
    flow = (await load_flow(services, flow_id)).flow
    _require_polling(flow)
    return await running_workflow(services, poller_id(flow_id), flow_id, f"the poller of '{flow_id}'")


async def _control(handle: WorkflowHandle, request: PollingControl) -> PollerStatus:
    return PollerStatus.of(await control(handle, PollingFlowWorkflow.control, request))


def _require_polling(flow: Flow) -> None:
    if flow.trigger.type != "polling":
        raise ApiError(409, f"flow '{flow.id}' has a {flow.trigger.type} trigger: it runs when a request arrives "
                            f"(POST /hooks/{flow.id}), there is nothing to start or stop")


def _schedule_text(flow: Flow) -> str:
    trigger = flow.trigger
    return f"on cron '{trigger.cron}'" if trigger.cron else f"every {trigger.interval:g}s"
