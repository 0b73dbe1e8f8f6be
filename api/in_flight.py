"""A flow's cap on messages in flight: accepted and not yet done, counted where every API process
sees the same figure, Temporal.

An ordinary flow's messages in flight are its running FlowRun workflows (a visibility count) plus
those waiting in its intake (a query); a real-time flow's are those its workflow holds, waiting
or in a batch (its status query). Asking Temporal per request would cost more than the request,
so each API process keeps the figure for ``REFRESH_SECONDS`` and adds what it accepted itself
since. Other processes' accepts show at the next refresh: a cap can be passed by what they accept
within that window, never by more.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.run_status import QUERY_TIMEOUT
from flows.model import Flow
from workflows.intake import FlowIntakeWorkflow
from workflows.intake_models import intake_workflow_id
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import realtime_workflow_id

REFRESH_SECONDS = 0.2
RETRY_AFTER_SECONDS = 1


@dataclass
class _Figure:
    counted: int = 0
    at: float = -math.inf
    own: int = 0  # accepted by this process since ``at``
    refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)


class InFlight:
    def __init__(self, client: Callable[[], Awaitable[Client]]) -> None:
        self._client = client
        self._figures: dict[str, _Figure] = {}

    async def admit(self, flow: Flow, cap: int) -> None:
        """429 with Retry-After when the flow has ``cap`` messages in flight; else nothing."""
        figure = await self._current(flow)
        if figure.counted + figure.own >= cap:
            raise ApiError(429, f"flow '{flow.id}' has {figure.counted + figure.own} message(s) in flight, its cap "
                                f"(max_in_flight {cap}); nothing was started: send again in {RETRY_AFTER_SECONDS} s "
                                "(Retry-After) or raise the flow's max_in_flight",
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, reason="in_flight_limit")

    def accepted(self, flow_id: str) -> None:
        """One more in flight, from this process, until the next count shows it."""
        figure = self._figures.get(flow_id)
        if figure is not None:
            figure.own += 1

    async def _current(self, flow: Flow) -> _Figure:
        figure = self._figures.setdefault(flow.id, _Figure())
        if time.monotonic() - figure.at < REFRESH_SECONDS:
            return figure
        async with figure.refreshing:  # one count per flow at a time; the others take its figure
            if time.monotonic() - figure.at >= REFRESH_SECONDS:
                started = time.monotonic()
                figure.counted = await self._count(flow)
                figure.at, figure.own = started, 0
        return figure

    async def _count(self, flow: Flow) -> int:
        client = await self._client()
        if flow.type == "realtime":
            return await _realtime_count(client, flow.id)
        running, waiting = await asyncio.gather(client.count_workflows(running_runs_query(flow.id)),
                                                _intake_count(client, flow.id))
        return running.count + waiting


def running_runs_query(flow_id: str) -> str:
    """A flow's running FlowRuns; a large fan-out's child branches carry a parent and are not messages."""
    return (f"FlowId = '{flow_id}' AND WorkflowType = 'FlowRun' AND ExecutionStatus = 'Running' "
            "AND ParentWorkflowId IS NULL")


async def _intake_count(client: Client, flow_id: str) -> int:
    handle = client.get_workflow_handle_for(FlowIntakeWorkflow.run, intake_workflow_id(flow_id))
    try:
        return await handle.query(FlowIntakeWorkflow.waiting_count, rpc_timeout=QUERY_TIMEOUT,
                                  reject_condition=QueryRejectCondition.NOT_OPEN)
    except (RPCError, WorkflowQueryRejectedError) as exc:
        return _nothing_if_gone(exc)


async def _realtime_count(client: Client, flow_id: str) -> int:
    handle = client.get_workflow_handle_for(RealtimeFlowWorkflow.run, realtime_workflow_id(flow_id))
    try:
        status = await handle.query(RealtimeFlowWorkflow.status, rpc_timeout=QUERY_TIMEOUT,
                                    reject_condition=QueryRejectCondition.NOT_OPEN)
    except (RPCError, WorkflowQueryRejectedError) as exc:
        return _nothing_if_gone(exc)
    return status.waiting + status.in_flight


def _nothing_if_gone(exc: Exception) -> int:
    """A workflow that does not exist, or has closed, holds no message."""
    if isinstance(exc, RPCError) and exc.status != RPCStatusCode.NOT_FOUND:
        raise exc
    return 0


