"""How one FlowRun carries its messages through the plan (flows/plan.py): step by step, fanning
out, down router branches, into a split's aggregate step, to a window's collector.

It lives outside the workflow's module so the sandbox does not compile and run it again for each
run (the workflow module is re-imported per run; on a worker without bytecode caches that cost
≈ 5 ms of every run's first workflow task). It is workflow code all the same, run only inside a
FlowRun; passed through, it is not checked by the sandbox, so it keeps to its rules on its own: no
I/O, no clock, no randomness, nothing kept between runs at module level.
"""

import asyncio
from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from flows.aggregate_window import is_window_aggregate
from flows.aggregation import group_message, is_window_group
from flows.model import Step
from flows.plan import is_aggregate, plan_flow
from flows.step_output import is_webhook_trigger, runs_in_platform, webhook_trigger_output
from steps.protocol import Message
from workflows.models import (
    FLOW_RUN_TYPE,
    FlowRunInput,
    FlowRunResult,
    StepBatchCall,
    StepCall,
    StepRecord,
    StepResult,
)
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


class FlowWalk:
    """One run's walk: the plan, the flow's concurrency slots and the report it fills."""

    def __init__(self, run: FlowRunInput) -> None:
        self._flow = run.flow
        self._run = run
        self.report = RunReport(FlowRunResult(flow_id=run.flow.id, flow_version=run.flow.version,
                                              execution_id=run.execution_id))
        self._slots_total = run.concurrency or run.flow.concurrency
        self._slots = asyncio.Semaphore(self._slots_total)
        self._plan = plan_flow(run.flow)
        self._branches = 0

    async def walk(self, into: Gathering | None) -> None:
        """The run's message (or messages) from its start step on."""
        if self._run.message is not None:
            await self._run_path(self._run.start_at, self._run.message, into, grouped=self._run.grouped)
        else:
            await self._fan_out(self._run.start_at, self._run.messages, into)

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
                self.report.filtered()
                return
            going_on = await self._after_step(index, message, outcome.messages, into)
            if going_on is None:
                return
            index, message = going_on
        self.report.deliver(message)

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
        self.report.count_step_runs(1)
        async with self._slots:
            try:
                result = await execute_step(call, lane)
            except ActivityError as error:
                self.report.record_failure(step, message, error, lane)
                return None
        self.report.http_reply(result.http_reply)
        self.report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
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
            self.report.record_failure(step, message, error, lane)
            return
        self.report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                      input=message.body, branch=lane, handed_to=handed.window_id))

    def _run_in_platform(self, step: Step, message: Message) -> StepResult:
        """The built-in webhook trigger, without a container or an activity: recorded as a step all the same."""
        output = webhook_trigger_output(message, step, self._flow.passthrough)
        self.report.count_step_runs(1)
        self.report.record(StepRecord(step_id=step.id, component=step.component, message_id=message.id, status="ok",
                                      emitted=1, input=message.body, output=output.body, duration_ms=0.0))
        return StepResult(messages=[output], input_body=message.body)

    async def _fan_out(self, index: int, messages: list[Message], into: Gathering | None = None) -> None:
        if index >= self._plan.end:
            for message in messages:
                self.report.deliver(message)
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
            self.report.count_step_runs(len(batch))
            async with self._slots:
                try:
                    result = await execute_step_batch(call, lane)
                except ActivityError as error:
                    for message in batch:
                        self.report.record_failure(step, message, error, lane)
                    batch = []
                    break
            batch = []
            for item in result.items:
                if item.status == "rebound":
                    side_paths.append(asyncio.create_task(self._run_path(index, item.message, into)))
                    self.report.count_step_runs(-1)  # counted again on the one-message path
                elif item.status == "failed":
                    self.report.record_failed(StepRecord(step_id=step.id, component=step.component,
                                                         message_id=item.message.id, status="failed", error=item.error,
                                                         error_type=item.error_type, input=item.input_body,
                                                         arrived=kept(item.message), branch=lane))
                else:
                    self.report.http_reply(item.http_reply)
                    self.report.record(StepRecord(step_id=step.id, component=step.component,
                                                  message_id=item.message.id, status="ok", emitted=len(item.outputs),
                                                  input=item.input_body,
                                                  output=item.outputs[0].body if len(item.outputs) == 1 else None,
                                                  branch=lane, routes=plan.chosen_branches(index, item.outputs)))
                    if not item.outputs:
                        self.report.filtered()
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
            self.report.deliver(message)
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
                    FLOW_RUN_TYPE, branch, id=branch_id, result_type=FlowRunResult,
                    static_summary=f"{self._flow.name}: {len(messages)} message(s) entering at step '{step.id}'",
                    search_attributes=workflow.info().typed_search_attributes,
                )
            except ChildWorkflowError as error:
                failed = failed_branch_result(error)
                if failed is None:
                    self.report.record_failure(step, messages[0], error, self._plan.lane(index))
                    return
                result = failed
        self.report.merge(result)
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
