"""An ordinary flow's intake: where webhook messages wait when they come faster than runs start.

Starting a run is one StartWorkflowExecution, ≈ 6.5 ms of the Temporal dev server's CPU here, so a
flood cannot be answered at the pace of starts. The API starts each message's run itself while it
has few starts in flight; beyond that it hands messages to this workflow (id ``intake:<flow id>``)
by signal-with-start, gathered like a real-time flow's, and answers 202 once Temporal acknowledged
the signal: the message is durable from then on. The workflow starts the runs in batches through
the ``start_runs`` activity, under the same workflow ids the API uses, so a message runs once
whichever path it took and however often an activity is retried. It ends after a minute without
messages, and continues as new when its history grows, carrying what still waits.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.heartbeat import HEARTBEAT_TIMEOUT
    from steps.protocol import Message
    from workflows.intake_models import SIGNAL_INTAKE, IntakeBatch, IntakeInput, StartRunsCall, StartRunsResult

START_BATCH = 50  # messages per start_runs activity
# Runs in flight while messages keep coming, and once they stopped for CALM. Measured on the file
# store (2 cores): the dev server applies its writes one at a time, so the API's signals queue behind
# the runs' writes: 4 runs in flight let it accept 361 msg/s, 2 let it accept 511.
RUNS_WHILE_ARRIVING = 2
RUNS_WHEN_CALM = 8
CALM = timedelta(seconds=2)
START_TIMEOUT = timedelta(minutes=15)  # 50 runs, 2 at a time, each waited for 30 s at most
START_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


@workflow.defn(name="FlowIntake")
class FlowIntakeWorkflow:
    def __init__(self) -> None:
        self._pending: list[IntakeBatch] = []
        self._starting: StartRunsCall | None = None  # taken from the waiting ones, their runs being started
        self._started = 0
        self._last_arrival = workflow.now()

    @workflow.run
    async def run(self, intake: IntakeInput) -> int:
        """Runs started by this intake (across continue-as-new) when it ends, idle."""
        self._pending.extend(intake.pending)
        self._started = intake.started
        while True:
            if not await self._wait_for_messages(timedelta(seconds=intake.idle_seconds)):
                return self._started
            calm = workflow.now() - self._last_arrival >= CALM
            call = self._starting = self._take(START_BATCH, RUNS_WHEN_CALM if calm else RUNS_WHILE_ARRIVING)
            result = await workflow.execute_activity(
                "start_runs", call, result_type=StartRunsResult, start_to_close_timeout=START_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT, retry_policy=START_RETRY,
                summary=f"start {len(call.messages)} run(s) of v{call.flow.version}")
            self._started += result.started
            self._starting = None
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > intake.max_history_events:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(intake.model_copy(update={"pending": self._pending, "started": self._started}))

    @workflow.signal(name=SIGNAL_INTAKE)
    def messages(self, batch: IntakeBatch) -> None:
        self._pending.append(batch)
        self._last_arrival = workflow.now()

    @workflow.query
    def waiting(self, message_id: str) -> bool:
        """Whether the message is accepted here and its run may not have started yet."""
        starting = self._starting.messages if self._starting is not None else []
        waiting = [*starting, *(message for batch in self._pending for message in batch.messages)]
        return any(message.id == message_id for message in waiting)

    @workflow.query
    def waiting_count(self) -> int:
        """Messages accepted here whose runs may not have started yet (a flow's in-flight cap counts them)."""
        starting = len(self._starting.messages) if self._starting is not None else 0
        return starting + sum(len(batch.messages) for batch in self._pending)

    async def _wait_for_messages(self, idle: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: bool(self._pending), timeout=idle)
        except TimeoutError:
            return bool(self._pending)  # a signal in the same task as the timer still counts
        return True

    def _take(self, limit: int, runs_in_flight: int) -> StartRunsCall:
        """Up to ``limit`` messages of the first waiting flow version, in the order accepted."""
        first = self._pending[0]
        messages: list[Message] = []
        traceparents: dict[str, str] = {}
        while self._pending and self._pending[0].flow.version == first.flow.version and len(messages) < limit:
            batch = self._pending[0]
            room = limit - len(messages)
            messages.extend(batch.messages[:room])
            traceparents.update({message.id: batch.traceparents[message.id] for message in batch.messages[:room]
                                 if message.id in batch.traceparents})
            if len(batch.messages) > room:
                self._pending[0] = batch.model_copy(update={"messages": batch.messages[room:]})
            else:
                self._pending.pop(0)
        return StartRunsCall(flow=first.flow, messages=messages, traceparents=traceparents,
                             runs_in_flight=runs_in_flight)
