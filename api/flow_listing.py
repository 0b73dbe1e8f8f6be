"""GET /flows: every flow, published or only a draft, with its active version and its state.

The state of an ordinary webhook flow is the API's own row; a real-time flow's and a polling
flow's live in their long-lived workflow, so those are asked by query, all at once, and a flow
whose workflow does not answer within ``STATE_TIMEOUT`` is listed as ``unknown``: the list is
answered in time even when Temporal is slow or down.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.flow_states import FlowRunState
from api.responses import CamelModel
from api.routes.pollers import poller_id
from api.services import Services
from api.store import StoredDraft, StoredFlow
from flows.model import Flow
from workflows.polling_flow import PollingFlowWorkflow
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import realtime_workflow_id

FlowState = Literal["running", "stopped", "starting", "stopping", "paused", "draft", "unknown"]
STATE_TIMEOUT = 2.0  # seconds for all the queries together
MAX_QUERIES_AT_ONCE = 32


class FlowListItem(CamelModel):
    """``version`` is the active version (null while the flow has only a draft); name, type,
    revision and createdAt are the active version's (the draft's, saved at, for a draft-only flow)."""

    id: str
    name: str
    type: str
    trigger_type: str
    version: int | None
    state: FlowState
    has_draft: bool
    revision: str
    created_at: str


@dataclass(frozen=True)
class _Stored:
    latest: list[StoredFlow]
    drafts: dict[str, StoredDraft]
    rows: dict[str, FlowRunState]


async def list_flows(services: Services) -> list[FlowListItem]:
    """Sorted by id."""
    stored = await asyncio.to_thread(_read, services)
    published = {s.flow.id for s in stored.latest}
    states = await _states(services, [(s.flow, stored.rows.get(s.flow.id)) for s in stored.latest])
    items = [_item(s.flow, s.version, s.revision, s.created_at, state, s.flow.id in stored.drafts)
             for s, state in zip(stored.latest, states, strict=True)]
    items += [_item(d.flow, None, d.revision, d.saved_at, "draft", True)
              for flow_id, d in stored.drafts.items() if flow_id not in published]
    return sorted(items, key=lambda item: item.id)


def _read(services: Services) -> _Stored:
    return _Stored(latest=services.store.list_latest(),
                   drafts={d.flow.id: d for d in services.store.list_drafts()},
                   rows=services.flow_states.all())


def _item(flow: Flow, version: int | None, revision: str, created_at: str, state: FlowState,
          has_draft: bool) -> FlowListItem:
    return FlowListItem(id=flow.id, name=flow.name, type=flow.type, trigger_type=flow.trigger.type, version=version,
                        state=state, has_draft=has_draft, revision=revision, created_at=created_at)


async def _states(services: Services, flows: list[tuple[Flow, FlowRunState | None]]) -> list[FlowState]:
    if not flows:
        return []
    at_once = asyncio.Semaphore(MAX_QUERIES_AT_ONCE)
    tasks = [asyncio.create_task(_state(services, flow, row, at_once)) for flow, row in flows]
    done, pending = await asyncio.wait(tasks, timeout=STATE_TIMEOUT)
    for task in pending:
        task.cancel()
    return [task.result() if task in done else "unknown" for task in tasks]


async def _state(services: Services, flow: Flow, row: FlowRunState | None, at_once: asyncio.Semaphore) -> FlowState:
    if flow.type == "realtime":
        if row is None:
            return "stopped"  # never started: no workflow to ask
        async with at_once:
            return await _asked(services, realtime_workflow_id(flow.id), RealtimeFlowWorkflow.status)
    if flow.trigger.type == "polling":
        async with at_once:
            return await _asked(services, poller_id(flow.id), PollingFlowWorkflow.status)
    return "stopped" if row == "stopped" else "running"


async def _asked(services: Services, workflow_id: str, query: Any) -> FlowState:
    """The workflow's own state; ``stopped`` when there is no such workflow (never started)."""
    try:
        handle = (await services.client()).get_workflow_handle(workflow_id)
        status = await handle.query(query, rpc_timeout=timedelta(seconds=STATE_TIMEOUT))
    except RPCError as error:
        return "stopped" if error.status == RPCStatusCode.NOT_FOUND else "unknown"
    except (ApiError, WorkflowQueryFailedError):
        return "unknown"
    state: FlowState = status.state
    return state
