"""Polling flows: one long-lived PollingFlow per flow, one PollRun child per poll.

PollingFlow holds the flow's state (running, paused, stopped) and the trigger's snapshot in its
own history, takes operators' requests through the ``control`` update, and runs polls one at a
time, so polls never overlap. Each PollRun runs the trigger once from the snapshot it was given
and hands the records to a FlowRun child; the snapshot advances (in PollingFlow) only from a poll
that completed, i.e. after its records were durably handed on. A failed poll leaves it as it was.
"""

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from flows.message_ids import poll_message_id
    from steps.protocol import Message
    from workflows.flow_run import FlowRunWorkflow
    from workflows.models import (
        POLL_RUN_TYPE,
        FlowRunInput,
        FlowRunResult,
        PollingControl,
        PollingInput,
        PollingStatus,
        PollRunInput,
        PollRunResult,
        StepCall,
    )
    from workflows.run_report import failed_branch_result
    from workflows.schedule import next_poll_at
    from workflows.step_activity import execute_step

POLLS_PER_RUN = 500  # continue-as-new after this many polls (or sooner if Temporal suggests it)


@workflow.defn(name="PollingFlow")
class PollingFlowWorkflow:
    @workflow.init
    def __init__(self, start: PollingInput) -> None:
        self._state = start.model_copy(deep=True)
        self._run_now = False
        self._woken = False
        self._polling = False
        self._reset_while_polling = False
        self._next: datetime | None = None
        self._last: PollRunResult | None = None
        self._polls_this_run = 0

    @workflow.run
    async def run(self, start: PollingInput) -> None:
        while True:
            if self._polls_this_run >= POLLS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._state)
            if await self._wait_until_due():
                await self._poll()

    @workflow.update
    def control(self, request: PollingControl) -> PollingStatus:
        state = self._state
        if request.action in ("start", "publish") and request.flow is not None:
            state.flow = request.flow
        if request.action in ("start", "resume"):
            state.state = "running"
        elif request.action == "pause":
            state.state = "paused"
        elif request.action == "stop":
            state.state = "stopped"
            self._run_now = False
        elif request.action == "run_now":
            self._run_now = True
        elif request.action == "reset_snapshot":
            state.snapshot = dict(request.snapshot or {})
            self._reset_while_polling = self._polling
        self._woken = True
        return self.status()

    @control.validator
    def _check_control(self, request: PollingControl) -> None:
        if request.action == "run_now" and self._state.state == "stopped":
            raise ValueError("the flow is stopped: start it before asking for a poll")
        if request.action == "publish" and request.flow is None:
            raise ValueError("publish needs the new flow definition")
        if request.flow is not None and request.flow.id != self._state.flow.id:
            raise ValueError(f"this poller belongs to flow '{self._state.flow.id}', not '{request.flow.id}'")
        if request.flow is not None and request.flow.trigger.type != "polling":
            raise ValueError(f"flow '{request.flow.id}' no longer has a polling trigger")

    @workflow.query
    def status(self) -> PollingStatus:
        state = self._state
        return PollingStatus(flow_id=state.flow.id, flow_version=state.flow.version, state=state.state,
                             snapshot=state.snapshot, polls=state.polls, polling_now=self._polling,
                             next_poll_at=self._next, last_poll=self._last)

    async def _wait_until_due(self) -> bool:
        """True when a poll is due (its time came, or run-now); False when woken to look again."""
        self._woken = False
        if self._run_now:  # asked for while the last poll ran
            self._run_now = False
            return True
        now = workflow.now()
        due = next_poll_at(self._state.flow.trigger, self._state.last_poll_started, now) \
            if self._state.state == "running" else None
        self._next = due
        if due is None:
            await workflow.wait_condition(lambda: self._woken)
        elif due > now:
            try:
                await workflow.wait_condition(lambda: self._woken, timeout=(due - now).total_seconds())
            except TimeoutError:
                return self._state.state == "running"
        else:
            return True
        if self._run_now:
            self._run_now = False
            return True
        return False

    async def _poll(self) -> None:
        state = self._state
        number = state.polls + 1
        state.polls = number
        state.last_poll_started = workflow.now()
        self._polls_this_run += 1
        self._polling, self._reset_while_polling = True, False
        self._next = None
        flow = state.flow
        try:
            result = await workflow.execute_child_workflow(
                PollRunWorkflow.run, PollRunInput(flow=flow, snapshot=state.snapshot, poll_number=number,
                             poller_run_id=workflow.info().first_execution_run_id),
                id=f"{workflow.info().workflow_id}/poll-{number}",
                static_summary=f"{flow.name} v{flow.version}: poll {number}",
                search_attributes=workflow.info().typed_search_attributes,
            )
        except ChildWorkflowError as error:
            cause = error.cause
            result = PollRunResult(poll_number=number, snapshot=state.snapshot, status="failed",
                                   error=str(cause.message if isinstance(cause, ApplicationError) else cause))
        finally:
            self._polling = False
        if result.snapshot_advanced and not self._reset_while_polling:
            state.snapshot = result.snapshot
        self._last = result


@workflow.defn(name=POLL_RUN_TYPE)
class PollRunWorkflow:
    @workflow.run
    async def run(self, poll: PollRunInput) -> PollRunResult:
        flow, trigger = poll.flow, poll.flow.trigger
        poll_id = workflow.info().workflow_id
        message = Message(id=poll_message_id(flow.id, poll.poll_number, poll.poller_run_id))
        call = StepCall(flow_id=flow.id, flow_version=flow.version, execution_id=poll_id, step=trigger,
                        message=message, snapshot=poll.snapshot, passthrough=flow.passthrough,
                        standby=flow.standby_of(trigger), variables=flow.variables)
        try:
            fetched = await execute_step(call)
        except ActivityError as error:
            cause = error.cause or error
            raise ApplicationError(f"poll {poll.poll_number} of '{flow.id}' failed; the snapshot stays as it was: "
                                   f"{cause}", type="PollFailed", non_retryable=True) from None
        snapshot = fetched.snapshot if fetched.snapshot is not None else poll.snapshot
        result = PollRunResult(poll_number=poll.poll_number, snapshot=snapshot, records=len(fetched.messages),
                               snapshot_advanced=fetched.snapshot is not None)
        if not fetched.messages:
            result.status = "nothing-new"
            return result
        result.totals = (await self._hand_on(poll, fetched.messages)).totals
        return result

    async def _hand_on(self, poll: PollRunInput, messages: list[Message]) -> FlowRunResult:
        """The records go through the rest of the flow as one FlowRun tree (under the flow's
        concurrency cap); failures there are that run's, and do not hold the snapshot back."""
        poll_id = workflow.info().workflow_id
        try:
            return await workflow.execute_child_workflow(
                FlowRunWorkflow.run,
                FlowRunInput(flow=poll.flow, execution_id=poll_id, start_at=1, messages=messages),
                id=f"{poll_id}/records",
                static_summary=f"{poll.flow.name}: {len(messages)} record(s) of poll {poll.poll_number}",
                search_attributes=workflow.info().typed_search_attributes,
            )
        except ChildWorkflowError as error:
            failed = failed_branch_result(error)
            if failed is None:
                raise
            return failed
