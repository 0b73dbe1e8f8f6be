"""AggregateWindow: the collector of one window aggregate for one key value.

Runs hand their messages over by signal-with-start (activities/hand_to_window.py), so the first
message of a key starts the collector and the window (a durable timer, ``window`` seconds) starts
with it. The window closes when the timer fires or ``max_messages`` arrived; its messages then go on
together as one FlowRun, a child entering the flow at the aggregate step (abandoned when the
collector closes: it is an execution like any other). Messages that arrive while the window closes
are not lost: the collector continues as new with them, a new window.
"""

from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from conflux.flow_runs import start_options
    from flows.aggregate_window import window_settings
    from flows.aggregation import window_message
    from flows.plan import plan_flow
    from steps.protocol import Message
    from workflows.flow_run import FlowRunWorkflow
    from workflows.models import FlowRunInput
    from workflows.window_models import WindowInput, WindowResult


@workflow.defn(name="AggregateWindow")
class AggregateWindowWorkflow:
    @workflow.init
    def __init__(self, window: WindowInput) -> None:
        self._messages: list[Message] = list(window.messages)

    @workflow.signal
    def add(self, message: Message) -> None:
        """A run's message for this key; a handover repeated (its activity retried) is taken once."""
        if all(waiting.id != message.id for waiting in self._messages):
            self._messages.append(message)

    @workflow.query
    def waiting(self) -> int:
        return len(self._messages)

    @workflow.run
    async def run(self, window: WindowInput) -> WindowResult:
        settings = window_settings(plan_flow(window.flow).steps[window.step_index])
        try:
            await workflow.wait_condition(lambda: len(self._messages) >= settings.max_messages,
                                          timeout=settings.seconds)
        except TimeoutError:
            pass
        taken, self._messages = self._messages[:settings.max_messages], self._messages[settings.max_messages:]
        execution_id = await self._start_run(window, taken) if taken else None
        if self._messages:  # left over, or arrived while the run started: the next window
            workflow.continue_as_new(window.model_copy(update={"messages": self._messages,
                                                               "windows": window.windows + 1}))
        return WindowResult(execution_id=execution_id, messages=len(taken))

    async def _start_run(self, window: WindowInput, taken: list[Message]) -> str:
        """The window's messages as one message entering the flow at the aggregate step."""
        flow, step = window.flow, plan_flow(window.flow).steps[window.step_index]
        message = window_message(taken, window.key, workflow.info().workflow_id, step.id)
        options = {**start_options(workflow.info().task_queue, flow, message),
                   "static_summary": f"{flow.name} v{flow.version}: {len(taken)} message(s) gathered by "
                                     f"'{step.id}' for key {window.key!r}",
                   "parent_close_policy": ParentClosePolicy.ABANDON}
        try:
            await self._start_child(window, message, options)
        except WorkflowAlreadyStartedError:  # its first message was handed over again after an earlier window
            options["id"] = f"{options['id']}-{workflow.info().run_id[:8]}"
            await self._start_child(window, message, options)
        return str(options["id"])

    @staticmethod
    async def _start_child(window: WindowInput, message: Message, options: dict[str, Any]) -> None:
        run = FlowRunInput(flow=window.flow, execution_id=options["id"], message=message,
                           start_at=window.step_index, grouped=True)
        await workflow.start_child_workflow(FlowRunWorkflow.run, run, **options)
