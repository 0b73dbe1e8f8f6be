"""Starting one FlowRun for one message, at most once per (flow, message id).

The workflow id is ``{flow id}:{message id}``. A delivery repeated while the first run is going
is refused by Temporal (id conflict policy FAIL), and one repeated after it closed too (id reuse
policy REJECT_DUPLICATE); both answer WorkflowAlreadyStartedError, and the caller gets the first
run's ids with ``duplicate: true``. Either way nothing runs twice, for as long as Temporal keeps
the closed run (the namespace's retention period).
"""

from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from flows.model import Branch, Flow, Step
from flows.step_output import runs_in_platform
from steps.protocol import Message
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput, FlowRunResult
from workflows.replies import FlowReply, ReplyRequest, run_reply
from workflows.run_report import failed_run_result
from workflows.search import flow_search_attributes


@dataclass(frozen=True)
class StartedRun:
    workflow_id: str
    run_id: str | None
    message_id: str
    duplicate: bool

    @property
    def execution_id(self) -> str:
        """The execution is named like its workflow: one message, one execution, one id."""
        return self.workflow_id


def workflow_id(flow: Flow, message_id: str) -> str:
    return f"{flow.id}:{message_id}"


async def start_flow_run(client: Client, task_queue: str, flow: Flow, message: Message) -> StartedRun:
    """Start the run for ``message`` unless this flow already ran (or runs) a message with its id:
    FAIL on a running one and REJECT_DUPLICATE on a closed one both answer WorkflowAlreadyStartedError."""
    wid = workflow_id(flow, message.id)
    try:
        handle = await client.start_workflow(
            FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id=wid, message=message),
            **start_options(task_queue, flow, message), id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            request_eager_start=True,  # a worker sharing this client takes the first task from the answer
        )
    except WorkflowAlreadyStartedError as exc:
        return StartedRun(workflow_id=wid, run_id=exc.run_id, message_id=message.id, duplicate=True)
    return StartedRun(workflow_id=wid, run_id=handle.result_run_id, message_id=message.id, duplicate=False)


async def run_for_reply(client: Client, task_queue: str, flow: Flow, message: Message,
                        request: ReplyRequest) -> tuple[StartedRun, FlowReply]:
    """Start the run and wait for its answer in one call (update-with-start). A repeat of a message
    whose run still goes joins it (USE_EXISTING) and gets the same answer; one whose run closed gets
    the answer from the closed run's result."""
    wid = workflow_id(flow, message.id)
    start = WithStartWorkflowOperation(
        FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id=wid, message=message),
        **start_options(task_queue, flow, message), id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        reply = await client.execute_update_with_start_workflow(FlowRunWorkflow.reply, request,
                                                                start_workflow_operation=start)
    except WorkflowAlreadyStartedError as exc:
        started = StartedRun(workflow_id=wid, run_id=exc.run_id, message_id=message.id, duplicate=True)
        return started, await _closed_run_reply(client, wid, request)
    handle = await start.workflow_handle()
    started = StartedRun(workflow_id=wid, run_id=handle.first_execution_run_id or handle.result_run_id,
                         message_id=message.id, duplicate=False)
    return started, reply


async def _closed_run_reply(client: Client, wid: str, request: ReplyRequest) -> FlowReply:
    handle = client.get_workflow_handle_for(FlowRunWorkflow.run, wid)
    try:
        result: FlowRunResult | None = await handle.result()
    except WorkflowFailureError as exc:
        result = failed_run_result(exc.cause)
    if result is None:
        return FlowReply(status="failed", error="the run failed before it made a report; see it in the Temporal UI")
    reply = run_reply(result, request.mode, finished=True)
    assert reply is not None
    return reply


def start_options(task_queue: str, flow: Flow, message: Message) -> dict[str, Any]:
    """What every start of a FlowRun for one message shares, whichever call starts it (a retry
    overrides the id, summary and details)."""
    return {
        "id": workflow_id(flow, message.id),
        "task_queue": task_queue,
        "search_attributes": flow_search_attributes(flow),
        "static_summary": f"{flow.name} v{flow.version}: message {message.id}",
        "static_details": steps_markdown(flow),
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }


def steps_markdown(flow: Flow) -> str:
    """The static details the Temporal UI shows: what this run will execute."""
    lines = [f"**{flow.name}** (`{flow.id}` v{flow.version}, revision `{flow.revision()}`)", ""]
    for number, step in enumerate(flow.all_steps, start=1):
        role = f" — {flow.trigger.type} trigger" if number == 1 else ""
        role += " (run by the platform, no container)" if runs_in_platform(step) else ""
        lines.append(f"{number}. `{step.id}`: {step.component}/{step.function}{role}")
        lines += branch_lines(step, "   ")
    return "\n".join(lines)


def branch_lines(router: Step, indent: str) -> list[str]:
    """A router's branches under it in the static details: condition, steps, where each ends."""
    lines = []
    for way in router.ways():
        condition = f"when `{way.when}`" if isinstance(way, Branch) else "otherwise"
        after = "then the step after the router" if way.then == "rejoin" else "then the flow ends"
        lines.append(f"{indent}- branch `{way.id}` ({condition}), {after}:")
        for step in way.steps:
            lines.append(f"{indent}  - `{step.id}`: {step.component}/{step.function}")
            lines += branch_lines(step, indent + "    ")
    return lines


