"""The signals-with-start the bridges send (api/signal_bridge.py): a real-time flow's messages to
its long-lived workflow, an ordinary flow's waiting messages to its intake (workflows/intake.py).
Also the one place a real-time flow's workflow is started, with or without messages."""

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from api.settings import ApiSettings
from conflux.flow_runs import steps_markdown
from conflux.trace_context import current_traceparent
from conflux.tracing import trace_of_its_own
from flows.model import Flow
from steps.protocol import Message
from workflows.intake import FlowIntakeWorkflow
from workflows.intake_models import SIGNAL_INTAKE, IntakeBatch, IntakeInput, intake_workflow_id
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import SIGNAL_MESSAGES, MessageBatch, RealtimeCarry, RealtimeInput, realtime_workflow_id
from workflows.replies import FlowReply, RealtimeReplyCall, ReplyRequest
from workflows.search import flow_search_attributes


class WorkflowSignals:
    def __init__(self, client: Callable[[], Awaitable[Client]], settings: ApiSettings) -> None:
        self._client = client
        self._settings = settings

    def realtime_input(self, flow: Flow) -> RealtimeInput:
        """How a real-time flow's workflow starts (from POST /start, or a signal-with-start)."""
        return RealtimeInput(carry=RealtimeCarry(flow=flow),
                             max_history_events=self._settings.realtime_max_history_events)

    async def realtime(self, flow: Flow, messages: list[Message], traceparents: dict[str, str]) -> None:
        await self.start_realtime(flow, messages, traceparents)

    async def start_realtime(self, flow: Flow, messages: list[Message] | None = None,
                             traceparents: dict[str, str] | None = None) -> WorkflowHandle[Any, Any]:
        """The flow's workflow, started unless it runs (POST /start, a publish that makes a flow
        real-time), with ``messages`` signalled when given (the signal bridge), and the traces they
        continue (message id -> traceparent)."""
        client = await self._client()
        signal: dict[str, Any] = {}
        if messages:
            batch = MessageBatch(messages=messages, traceparents=traceparents or {})
            signal = {"start_signal": SIGNAL_MESSAGES, "start_signal_args": [batch]}
        with trace_of_its_own("start real-time flow", {"flow": flow.id}):
            return await client.start_workflow(RealtimeFlowWorkflow.run, self.realtime_input(flow),
                                               **self._realtime_options(flow), **signal)

    async def realtime_reply(self, flow: Flow, message: Message, request: ReplyRequest) -> FlowReply:
        """Request-reply on a real-time flow: the message by update (with start, as the signals, so
        nothing is refused between two runs), answered with what the flow produced for it."""
        client = await self._client()
        start = WithStartWorkflowOperation(RealtimeFlowWorkflow.run, self.realtime_input(flow),
                                           **self._realtime_options(flow))
        call = RealtimeReplyCall(message=message, reply=request, traceparent=current_traceparent())
        return await client.execute_update_with_start_workflow(
            RealtimeFlowWorkflow.deliver_and_reply, call, start_workflow_operation=start)

    def _realtime_options(self, flow: Flow) -> dict[str, Any]:
        return {"id": realtime_workflow_id(flow.id), "task_queue": self._settings.task_queue,
                "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
                "search_attributes": flow_search_attributes(flow),
                "static_summary": f"{flow.name}: real-time flow", "static_details": steps_markdown(flow)}

    async def intake(self, flow: Flow, messages: list[Message], traceparents: dict[str, str]) -> None:
        """No flow search attributes: listing a flow's runs must not list its intake."""
        client = await self._client()
        with trace_of_its_own("start intake", {"flow": flow.id}):
            await client.start_workflow(
                FlowIntakeWorkflow.run, IntakeInput(flow_id=flow.id),
                id=intake_workflow_id(flow.id), task_queue=self._settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, start_signal=SIGNAL_INTAKE,
                start_signal_args=[IntakeBatch(flow=flow, messages=messages, traceparents=traceparents)],
                static_summary=f"{flow.name}: intake (webhook messages waiting for their runs to start)",
            )
