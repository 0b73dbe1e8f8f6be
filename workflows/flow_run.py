"""FlowRun: one execution of an ordinary flow.

One message goes step by step, one activity (one container) per step. Step outputs live in the
workflow's history, so a worker that dies resumes at the next step. A step that emits many
messages fans out: they travel on in batches (one container per step per batch, spread over the
flow's concurrency slots); past LEAF_MESSAGES they go to child FlowRun workflows (a tree of
bounded width), so no history grows with the size of the fan-out.
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from flows.model import Step
    from flows.step_output import is_webhook_trigger, runs_in_platform, webhook_trigger_output
    from steps.protocol import Message
    from workflows.models import FlowRunInput, FlowRunResult, StepBatchCall, StepCall, StepRecord, StepResult
    from workflows.replies import FlowReply, ReplyRequest, run_reply
    from workflows.retry_input import kept
    from workflows.run_report import RunReport, failed_branch_result
    from workflows.step_activity import execute_step, execute_step_batch

BATCH_SIZE = 100            # messages one container takes in one activity
# Runs started before a webhook trigger with a mapping ran in its container copied the request in the
# platform: their histories have no activity for it, so they replay that way.
MAPPED_TRIGGER_IN_CONTAINER = "mapped-webhook-trigger-in-container"
LEAF_MESSAGES = 1000        # up to this many fan out as batches inside one workflow; more go to child branches
MAX_CHILDREN = 100          # branches per workflow; a wider fan-out becomes a deeper tree


@workflow.defn(name="FlowRun")
class FlowRunWorkflow:
    """Routes messages through the steps; what happened goes into the run's report."""

    @workflow.init
    def __init__(self, run: FlowRunInput) -> None:
        self._flow = run.flow
        self._run = run
        self._report = RunReport(FlowRunResult(flow_id=run.flow.id, flow_version=run.flow.version,
                                               execution_id=run.execution_id))
        self._slots_total = run.concurrency or run.flow.concurrency
        self._slots = asyncio.Semaphore(self._slots_total)
        self._branches = 0
        self._finished = False

    @workflow.run
    async def run(self, run: FlowRunInput) -> FlowRunResult:
        if run.message is not None:
            await self._run_path(run.start_at, run.message)
        else:
            await self._fan_out(run.start_at, run.messages)
        self._finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)  # a waiting caller gets its answer first
        return self._report.finish()

    @workflow.query
    def progress(self) -> FlowRunResult:
        return self._report.result

    @workflow.update
    async def reply(self, request: ReplyRequest) -> FlowReply:
        """Request-reply: the answer for a caller waiting on this run (update-with-start from the API),
        or ``timeout`` once it waited ``request.timeout_seconds``; the run goes on either way."""
        try:
            await workflow.wait_condition(lambda: self._reply(request) is not None, timeout=request.timeout_seconds)
        except TimeoutError:
            return FlowReply(status="timeout")
        answer = self._reply(request)
        assert answer is not None
        return answer

    def _reply(self, request: ReplyRequest) -> FlowReply | None:
        return run_reply(self._report.result, request.mode, self._finished)

    async def _run_path(self, index: int, message: Message) -> None:
        """Carry one message through steps[index:], fanning out where a step emits several."""
        steps = self._flow.all_steps
        while index < len(steps):
            step = steps[index]
            outcome = await self._run_step(step, message)
            if outcome is None:
                return
            if len(outcome.messages) == 0:
                self._report.filtered()
                return
            if len(outcome.messages) > 1:
                await self._fan_out(index + 1, outcome.messages)
                return
            message = outcome.messages[0]
            index += 1
        self._report.deliver(message)

    async def _run_step(self, step: Step, message: Message) -> StepResult | None:
        if runs_in_platform(step) or (is_webhook_trigger(step) and not workflow.patched(MAPPED_TRIGGER_IN_CONTAINER)):
            return self._run_in_platform(step, message)
        call = StepCall(flow_id=self._flow.id, flow_version=self._flow.version, execution_id=self._run.execution_id,
                        step=step, message=message, passthrough=self._flow.passthrough,
                        standby=self._flow.standby_of(step), variables=self._flow.variables)
        self._report.count_step_runs(1)
        async with self._slots:
            try:
                result = await execute_step(call)
            except ActivityError as error:
                self._report.record_failure(step, message, error)
                return None
        self._report.http_reply(result.http_reply)
        self._report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                       emitted=len(result.messages), input=result.input_body,
                                       output=result.messages[0].body if len(result.messages) == 1 else None,
                                       duration_ms=result.duration_ms))
        return result

    def _run_in_platform(self, step: Step, message: Message) -> StepResult:
        """The built-in webhook trigger, without a container or an activity: recorded as a step all the same."""
        output = webhook_trigger_output(message, step, self._flow.passthrough)
        self._report.count_step_runs(1)
        self._report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                       emitted=1, input=message.body, output=output.body, duration_ms=0.0))
        return StepResult(messages=[output], input_body=message.body)

    async def _fan_out(self, index: int, messages: list[Message]) -> None:
        if index >= len(self._flow.all_steps):
            for message in messages:
                self._report.deliver(message)
            return
        if len(messages) <= LEAF_MESSAGES:
            size = batch_size(len(messages), self._slots_total)
            await asyncio.gather(*(self._run_batch(index, messages[i:i + size])
                                   for i in range(0, len(messages), size)))
            return
        size = branch_size(len(messages), self._slots_total)
        await asyncio.gather(*(self._run_branch(index, messages[i:i + size]) for i in range(0, len(messages), size)))

    async def _run_batch(self, index: int, batch: list[Message]) -> None:
        """Carry a batch through steps[index:], one container per step for the whole batch.
        Messages that rebound leave the batch for the one-message path and its backoff."""
        steps = self._flow.all_steps
        retries: list[asyncio.Task] = []
        while batch and index < len(steps):
            step = steps[index]
            call = StepBatchCall(flow_id=self._flow.id, flow_version=self._flow.version,
                                 execution_id=self._run.execution_id, step=step, messages=batch,
                                 passthrough=self._flow.passthrough, standby=self._flow.standby_of(step),
                                 variables=self._flow.variables)
            self._report.count_step_runs(len(batch))
            async with self._slots:
                try:
                    result = await execute_step_batch(call)
                except ActivityError as error:
                    for message in batch:
                        self._report.record_failure(step, message, error)
                    batch = []
                    break
            batch = []
            for item in result.items:
                if item.status == "rebound":
                    retries.append(asyncio.create_task(self._run_path(index, item.message)))
                    self._report.count_step_runs(-1)  # counted again on the one-message path
                elif item.status == "failed":
                    self._report.record_failed(StepRecord(step_id=step.id, component=step.component,
                                                          message_id=item.message.id, status="failed", error=item.error,
                                                          error_type=item.error_type, input=item.input_body,
                                                          arrived=kept(item.message)))
                else:
                    self._report.http_reply(item.http_reply)
                    self._report.record(StepRecord(step_id=step.id, component=step.component,
                                                   message_id=item.message.id, status="ok", emitted=len(item.outputs),
                                                   input=item.input_body,
                                                   output=item.outputs[0].body if len(item.outputs) == 1 else None))
                    if not item.outputs:
                        self._report.filtered()
                    batch.extend(item.outputs)
            index += 1
            if len(batch) > BATCH_SIZE:
                await self._fan_out(index, batch)
                batch = []
        for message in batch:
            self._report.deliver(message)
        await asyncio.gather(*retries)

    async def _run_branch(self, index: int, messages: list[Message]) -> None:
        """A child FlowRun for a slice of a large fan-out; it takes one of this run's slots and runs
        its batches one at a time, so the flow's concurrency cap holds across the whole tree."""
        self._branches += 1
        branch_id = f"{workflow.info().workflow_id}/b{self._branches}"
        branch = FlowRunInput(flow=self._flow, execution_id=self._run.execution_id, start_at=index,
                              messages=messages, concurrency=1)
        step = self._flow.all_steps[index]
        async with self._slots:
            try:
                result = await workflow.execute_child_workflow(
                    FlowRunWorkflow.run, branch, id=branch_id,
                    static_summary=f"{self._flow.name}: {len(messages)} message(s) entering at step '{step.id}'",
                    search_attributes=workflow.info().typed_search_attributes,
                )
            except ChildWorkflowError as error:
                failed = failed_branch_result(error)
                if failed is None:
                    self._report.record_failure(step, messages[0], error)
                    return
                result = failed
        self._report.merge(result)


def batch_size(count: int, slots: int) -> int:
    """Spread a leaf's messages over every slot, at most BATCH_SIZE to a container."""
    return max(1, min(BATCH_SIZE, -(-count // slots)))


def branch_size(count: int, slots: int) -> int:
    """Branches in multiples of the slots (no idle tail), at most MAX_CHILDREN, each small
    enough (LEAF_MESSAGES) to run as batches."""
    rounds = -(-max(1, -(-count // LEAF_MESSAGES)) // slots)
    branches = min(MAX_CHILDREN, rounds * slots)
    return -(-count // branches)
