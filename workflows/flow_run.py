"""FlowRun: one execution of an ordinary flow.

One message goes step by step, one activity (one container) per step. Step outputs live in the
workflow's history, so a worker that dies resumes at the next step. A step that emits many
messages fans out: they travel on in batches (one container per step per batch, spread over the
flow's concurrency slots); past LEAF_MESSAGES they go to child FlowRun workflows (a tree of
bounded width), so no history grows with the size of the fan-out.

Routers and aggregates (flows/plan.py lays the branches out): a router's outputs go down the
branches it named; the parts of a split travel to the split's aggregate step, which runs once on
those that reached it, after every part has ended its way there (child branches hand theirs back).
A window aggregate (flows/aggregate_window.py) is not waited for here: the message is handed to the
collector of its key (workflows/aggregate_window.py) and its path in this run ends; the collector
starts a run of its own at the aggregate step with the window's messages (``grouped``).
A flow without either issues the same commands as before both existed.
"""

import asyncio
from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from flows.aggregate_window import is_window_aggregate
    from flows.aggregation import gathered_part, group_message, is_window_group
    from flows.model import Step
    from flows.plan import is_aggregate, plan_flow
    from flows.step_output import is_webhook_trigger, runs_in_platform, webhook_trigger_output
    from steps.protocol import Message
    from workflows.models import FlowRunInput, FlowRunResult, StepBatchCall, StepCall, StepRecord, StepResult
    from workflows.replies import FlowReply, ReplyRequest, run_reply
    from workflows.retry_input import kept
    from workflows.run_report import RunReport, failed_branch_result
    from workflows.step_activity import execute_step, execute_step_batch, hand_to_window
    from workflows.window_models import WindowHandover

BATCH_SIZE = 100            # messages one container takes in one activity
# Runs started before a webhook trigger with a mapping ran in its container copied the request in the
# platform: their histories have no activity for it, so they replay that way.
MAPPED_TRIGGER_IN_CONTAINER = "mapped-webhook-trigger-in-container"
LEAF_MESSAGES = 1000        # up to this many fan out as batches inside one workflow; more go to child branches
MAX_CHILDREN = 100          # branches per workflow; a wider fan-out becomes a deeper tree


@dataclass
class Gathering:
    """The parts of one split that reached its aggregate step (at plan index ``at``)."""

    at: int
    parts: list[Message] = field(default_factory=list)


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
        self._plan = plan_flow(run.flow)
        self._branches = 0
        self._finished = False

    @workflow.run
    async def run(self, run: FlowRunInput) -> FlowRunResult:
        into = Gathering(at=run.gather_at) if run.gather_at is not None else None
        if run.message is not None:
            await self._run_path(run.start_at, run.message, into, grouped=run.grouped)
        else:
            await self._fan_out(run.start_at, run.messages, into)
        if into is not None:
            self._report.result.gathered = [gathered_part(part) for part in into.parts]
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

    async def _run_path(self, index: int, message: Message, into: Gathering | None = None,
                        grouped: bool = False) -> None:
        """Carry one message through the plan from ``index``: fanning out where a step emits several,
        down the branch a router chose, into ``into`` when it reaches that split's aggregate step.
        ``grouped``: the message is a split's gathered parts, for the aggregate step at ``index``."""
        plan = self._plan
        while index < plan.end:
            if not grouped and into is not None and index == into.at:
                into.parts.append(message)
                return
            if not grouped and is_window_aggregate(plan.steps[index]):
                if not is_window_group(message):
                    await self._hand_to_window(index, message)
                    return
                grouped = True  # a retry of a window's run from its aggregate step
            if not grouped and is_aggregate(plan.steps[index]):
                message = group_message(message, [message])  # a retry from a step between split and aggregate
            grouped = False
            outcome = await self._run_step(index, message)
            if outcome is None:
                return
            if len(outcome.messages) == 0:
                self._report.filtered()
                return
            going_on = await self._after_step(index, message, outcome.messages, into)
            if going_on is None:
                return
            index, message = going_on
        self._report.deliver(message)

    async def _after_step(self, index: int, entered: Message, outputs: list[Message],
                          into: Gathering | None) -> tuple[int, Message] | None:
        """Send on what step ``index`` emitted for ``entered``; the one message that goes on along the
        caller's path, if it is one (else the others went their ways)."""
        plan = self._plan
        if index in plan.gathers:
            await self._split_and_gather(index, entered, outputs, into)
            return None
        routes = plan.routes(index, outputs)
        if len(routes) == 1:
            target, messages = routes[0]
            if len(messages) == 1:
                return target, messages[0]
            await self._fan_out(target, messages, into)
            return None
        await asyncio.gather(*(self._carry(target, messages, into) for target, messages in routes))
        return None

    async def _carry(self, index: int, messages: list[Message], into: Gathering | None) -> None:
        if len(messages) == 1:
            await self._run_path(index, messages[0], into)
        else:
            await self._fan_out(index, messages, into)

    async def _split_and_gather(self, index: int, entered: Message, parts: list[Message],
                                into: Gathering | None) -> None:
        """The parts of a split go their ways up to the split's aggregate step, which then runs once on
        those that reached it (in split order); parts that ended on the way are not waited for."""
        gathering = Gathering(at=self._plan.gathers[index])
        await self._carry(self._plan.after[index], parts, gathering)
        if gathering.parts:
            await self._run_path(gathering.at, group_message(entered, gathering.parts, count=len(parts)), into,
                                 grouped=True)

    async def _run_step(self, index: int, message: Message) -> StepResult | None:
        step, lane = self._plan.steps[index], self._plan.lane(index)
        if runs_in_platform(step) or (is_webhook_trigger(step) and not workflow.patched(MAPPED_TRIGGER_IN_CONTAINER)):
            return self._run_in_platform(step, message)
        call = StepCall(flow_id=self._flow.id, flow_version=self._flow.version, execution_id=self._run.execution_id,
                        step=step, message=message, passthrough=self._flow.passthrough,
                        standby=self._flow.standby_of(step), variables=self._flow.variables)
        self._report.count_step_runs(1)
        async with self._slots:
            try:
                result = await execute_step(call, lane)
            except ActivityError as error:
                self._report.record_failure(step, message, error, lane)
                return None
        self._report.http_reply(result.http_reply)
        self._report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                       emitted=len(result.messages), input=result.input_body,
                                       output=result.messages[0].body if len(result.messages) == 1 else None,
                                       duration_ms=result.duration_ms, branch=lane,
                                       routes=self._plan.chosen_branches(index, result.messages)))
        return result

    async def _hand_to_window(self, index: int, message: Message) -> None:
        """The message goes to its key's collector; the run that collector starts carries it on."""
        step, lane = self._plan.steps[index], self._plan.lane(index)
        try:
            handed = await hand_to_window(WindowHandover(flow=self._flow, step_index=index, message=message), step)
        except ActivityError as error:
            self._report.record_failure(step, message, error, lane)
            return
        self._report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                       input=message.body, branch=lane, handed_to=handed.window_id))

    def _run_in_platform(self, step: Step, message: Message) -> StepResult:
        """The built-in webhook trigger, without a container or an activity: recorded as a step all the same."""
        output = webhook_trigger_output(message, step, self._flow.passthrough)
        self._report.count_step_runs(1)
        self._report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                       emitted=1, input=message.body, output=output.body, duration_ms=0.0))
        return StepResult(messages=[output], input_body=message.body)

    async def _fan_out(self, index: int, messages: list[Message], into: Gathering | None = None) -> None:
        if index >= self._plan.end:
            for message in messages:
                self._report.deliver(message)
            return
        if into is not None and index == into.at:
            into.parts.extend(messages)
            return
        if len(messages) <= LEAF_MESSAGES:
            size = batch_size(len(messages), self._slots_total)
            await asyncio.gather(*(self._run_batch(index, messages[i:i + size], into)
                                   for i in range(0, len(messages), size)))
            return
        size = branch_size(len(messages), self._slots_total)
        await asyncio.gather(*(self._run_branch(index, messages[i:i + size], into)
                               for i in range(0, len(messages), size)))

    async def _run_batch(self, index: int, batch: list[Message], into: Gathering | None = None) -> None:
        """Carry a batch through the plan from ``index``, one container per step for the whole batch.
        Messages that rebound leave the batch for the one-message path and its backoff; the parts of a
        split, and messages a router sends down different branches, go their own ways."""
        plan = self._plan
        side_paths: list[asyncio.Task] = []
        while batch and index < plan.end:
            if into is not None and index == into.at:
                into.parts.extend(batch)
                batch = []
                break
            step, lane = plan.steps[index], plan.lane(index)
            if is_aggregate(step):  # parts of no split this run gathers here: each is a group of its own
                side_paths += [asyncio.create_task(self._run_path(index, message, into)) for message in batch]
                batch = []
                break
            call = StepBatchCall(flow_id=self._flow.id, flow_version=self._flow.version,
                                 execution_id=self._run.execution_id, step=step, messages=batch,
                                 passthrough=self._flow.passthrough, standby=self._flow.standby_of(step),
                                 variables=self._flow.variables)
            self._report.count_step_runs(len(batch))
            async with self._slots:
                try:
                    result = await execute_step_batch(call, lane)
                except ActivityError as error:
                    for message in batch:
                        self._report.record_failure(step, message, error, lane)
                    batch = []
                    break
            batch = []
            for item in result.items:
                if item.status == "rebound":
                    side_paths.append(asyncio.create_task(self._run_path(index, item.message, into)))
                    self._report.count_step_runs(-1)  # counted again on the one-message path
                elif item.status == "failed":
                    self._report.record_failed(StepRecord(step_id=step.id, component=step.component,
                                                          message_id=item.message.id, status="failed", error=item.error,
                                                          error_type=item.error_type, input=item.input_body,
                                                          arrived=kept(item.message), branch=lane))
                else:
                    self._report.http_reply(item.http_reply)
                    self._report.record(StepRecord(step_id=step.id, component=step.component,
                                                   message_id=item.message.id, status="ok", emitted=len(item.outputs),
                                                   input=item.input_body,
                                                   output=item.outputs[0].body if len(item.outputs) == 1 else None,
                                                   branch=lane, routes=plan.chosen_branches(index, item.outputs)))
                    if not item.outputs:
                        self._report.filtered()
                    if item.outputs and index in plan.gathers:
                        side_paths.append(asyncio.create_task(
                            self._split_and_gather(index, item.message, item.outputs, into)))
                    else:
                        batch.extend(item.outputs)
            routes = plan.routes(index, batch)
            if len(routes) > 1:
                side_paths += [asyncio.create_task(self._carry(target, messages, into)) for target, messages in routes]
                batch = []
            index = routes[0][0] if len(routes) == 1 else plan.after[index]
            if len(batch) > BATCH_SIZE:
                await self._fan_out(index, batch, into)
                batch = []
        for message in batch:
            self._report.deliver(message)
        await asyncio.gather(*side_paths)

    async def _run_branch(self, index: int, messages: list[Message], into: Gathering | None = None) -> None:
        """A child FlowRun for a slice of a large fan-out; it takes one of this run's slots and runs
        its batches one at a time, so the flow's concurrency cap holds across the whole tree. The parts
        of a split it carries to their aggregate step come back in its result."""
        self._branches += 1
        branch_id = f"{workflow.info().workflow_id}/b{self._branches}"
        branch = FlowRunInput(flow=self._flow, execution_id=self._run.execution_id, start_at=index,
                              messages=messages, concurrency=1, gather_at=into.at if into is not None else None)
        step = self._plan.steps[index]
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
                    self._report.record_failure(step, messages[0], error, self._plan.lane(index))
                    return
                result = failed
        self._report.merge(result)
        if into is not None:
            into.parts.extend(result.gathered)


def batch_size(count: int, slots: int) -> int:
    """Spread a leaf's messages over every slot, at most BATCH_SIZE to a container."""
    return max(1, min(BATCH_SIZE, -(-count // slots)))


def branch_size(count: int, slots: int) -> int:
    """Branches in multiples of the slots (no idle tail), at most MAX_CHILDREN, each small
    enough (LEAF_MESSAGES) to run as batches."""
    rounds = -(-max(1, -(-count // LEAF_MESSAGES)) // slots)
    branches = min(MAX_CHILDREN, rounds * slots)
    return -(-count // branches)
