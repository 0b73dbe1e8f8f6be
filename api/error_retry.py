"""POST /flows/{id}/errors/retry: each error again, as a new execution on the flow's ACTIVE version.

Plain: the message the failed execution started with, from where it entered. ``fromStep``: the
message as it reached the failed step, from that step (the steps before it do not run again; the
step's mapping applies again, the active version's). ``body``: either of them with its body
replaced (edit and retry).

Plain and from-step retries keep the message id, so every step request carries the idempotency
key of the first attempt (flows/message_ids.py) and a target that applied it already drops the
repeat; an edited retry is a new message (``<id>~edit-<n>``). A retry's execution is
``<flow>:<message id>:retry-<n>``, n counting that message's retries, so retries never collide
with the original or each other; asking again for the same error starts another retry.
"""

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.error_retries import RetryLog
from api.error_sources import Entry, FoundError, entry_of_error
from api.errors import ApiError
from api.flow_workflows import control
from api.responses import CamelModel
from api.routes.realtime import realtime_workflow, require_running
from api.runs import links
from api.services import Services
from conflux.flow_runs import start_options, steps_markdown
from flows.model import Flow
from flows.plan import plan_flow
from steps.protocol import Message
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import RealtimeRetry
from workflows.retry_input import KEPT_MESSAGE_CHARS

START_ATTEMPTS = 20  # retry numbers tried when Temporal already has the next one (a database made anew)


class RetryStarted(CamelModel):
    error_id: str
    execution_id: str
    workflow_id: str


@dataclass(frozen=True)
class RetryPlan:
    """What one retry runs: ``message`` entering the active version at ``start_at``."""

    errors: tuple[FoundError, ...]
    message: Message
    start_at: int
    from_step: bool
    edited: bool
    how: str

    @property
    def first(self) -> FoundError:
        return self.errors[0]


async def plan_retry(client: Client, flow: Flow, found: FoundError, from_step: bool, body: Any,
                     edit: bool) -> RetryPlan:
    """ApiError 409 when the active version cannot take it (the step is gone, or the message
    that reached it was too large to keep)."""
    if from_step:
        if found.arrived is None:
            raise ApiError(409, f"the message that reached step '{found.step_id}' was not kept (its JSON is over "
                                f"{KEPT_MESSAGE_CHARS:,} characters); retry without fromStep (from the start)")
        entry = Entry(found.arrived, found.step_id)
        how = f"from step '{found.step_id}'"
    else:
        known = await entry_of_error(client, found)
        if known is None:
            raise ApiError(409, f"the message execution '{found.failed_workflow_id}' started with was not kept; "
                                "retry with fromStep: true")
        entry, how = known, "from its start"
    message = entry.message.model_copy(update={"idempotencyKey": None})
    if edit:
        message = message.model_copy(update={"body": body})
        how += ", body edited"
    return RetryPlan(errors=(found,), message=message, start_at=step_index(flow, entry.step_id),
                     from_step=from_step, edited=edit, how=how)


def step_index(flow: Flow, step_id: str | None) -> int:
    """Where ``step_id`` is in ``flow`` (None: the trigger); 409 naming the steps it has."""
    if step_id is None:
        return 0
    steps = plan_flow(flow).steps  # the main line, then routers' branches
    for index, step in enumerate(steps):
        if step.id == step_id:
            return index
    listed = ", ".join(f"'{step.id}'" for step in steps)
    raise ApiError(409, f"flow '{flow.id}' v{flow.version} (the active version) has no step '{step_id}' to retry "
                        f"from; its steps are {listed}. Retry without fromStep, or publish a version with that step")


def merge_same_runs(plans: list[RetryPlan]) -> list[RetryPlan]:
    """Plain retries of failures of one run (the parts of a fan-out; in a real-time flow, of one
    message) re-run the same message: one execution serves them all."""
    places: dict[tuple[str, str, str, int], int] = {}
    merged: list[RetryPlan] = []
    for plan in plans:
        run = plan.first.failed_run_id
        key = (plan.first.failed_workflow_id if run else "realtime", run or "", plan.message.id, plan.start_at)
        if plan.from_step or plan.edited or key not in places:
            if not (plan.from_step or plan.edited):
                places[key] = len(merged)
            merged.append(plan)
            continue
        earlier = merged[places[key]]
        merged[places[key]] = dataclasses.replace(earlier, errors=earlier.errors + plan.errors)
    return merged


async def start_retry(services: Services, flow: Flow, plan: RetryPlan) -> list[RetryStarted]:
    """Start the retry on the active version; one answer per error it serves."""
    log = services.retry_log
    if flow.type == "realtime":
        execution_id, workflow_id = await _queue_realtime(services, log, flow, plan)
    else:
        execution_id = workflow_id = await _start_flow_run(services, log, flow, plan)
    await asyncio.to_thread(log.record, flow.id, [found.error_id for found in plan.errors], execution_id)
    return [RetryStarted(error_id=found.error_id, execution_id=execution_id, workflow_id=workflow_id)
            for found in plan.errors]


def _numbered(flow: Flow, plan: RetryPlan, number: int) -> tuple[str, Message]:
    base = plan.message.id
    message = plan.message.model_copy(update={"id": f"{base}~edit-{number}"}) if plan.edited else plan.message
    return f"{flow.id}:{base}:retry-{number}", message


async def _start_flow_run(services: Services, log: RetryLog, flow: Flow, plan: RetryPlan) -> str:
    client = await services.client()
    for _ in range(START_ATTEMPTS):
        wid, message = _numbered(flow, plan, await asyncio.to_thread(log.claim_number, flow.id, plan.message.id))
        try:
            options = start_options(services.settings.task_queue, flow, message) | {
                "id": wid,
                "static_summary": f"{flow.name} v{flow.version}: retry of {plan.first.failed_workflow_id} ({plan.how})",
                "static_details": retry_details(services, plan) + "\n\n" + steps_markdown(flow),
            }
            await client.start_workflow(
                FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id=wid, message=message, start_at=plan.start_at),
                **options, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                memo={"retryOf": [{"workflowId": found.failed_workflow_id, "runId": found.failed_run_id,
                                   "errorId": found.error_id} for found in plan.errors]},
            )
        except WorkflowAlreadyStartedError:
            continue
        return wid
    raise ApiError(409, f"no free retry id for message '{plan.message.id}' after {START_ATTEMPTS} tries; "
                        "try again")


async def _queue_realtime(services: Services, log: RetryLog, flow: Flow, plan: RetryPlan) -> tuple[str, str]:
    require_running(flow, services.flows.state(flow.id))
    handle = await realtime_workflow(services, flow.id)
    number = await asyncio.to_thread(log.claim_number, flow.id, plan.message.id)
    execution_id, message = _numbered(flow, plan, number)
    await control(handle, RealtimeFlowWorkflow.retry,
                  RealtimeRetry(message=message, start_at=plan.start_at, retry_of=plan.first.failed_workflow_id))
    return execution_id, handle.id


def retry_details(services: Services, plan: RetryPlan) -> str:
    """Markdown the Temporal UI shows with the run: the failed execution it retries, linked."""
    lines = []
    for found in plan.errors:
        target = links(services.settings, found.failed_workflow_id)["temporalUi"]
        if found.failed_run_id:
            target += f"/{found.failed_run_id}/history"
        lines.append(f"**Retry** ({plan.how}) of [{found.failed_workflow_id}]({target}), which failed at step "
                     f"`{found.step_id}`: {(found.error or '')[:300]}")
    return "\n\n".join(lines)
