"""What crosses the workflow/activity/API boundary. Every call takes one model, so fields can be
added later without breaking workflows that are already running."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from flows.model import Flow, Step
from steps.protocol import HttpReply, Message

StepStatus = Literal["ok", "failed"]
MAX_OUTPUTS = 20  # last-step bodies a run's report (and a request-reply answer) keeps
FLOW_RUN_TYPE = "FlowRun"  # the workflow type of one execution of an ordinary flow
POLL_RUN_TYPE = "PollRun"  # the workflow type of one poll; run_step counts the polls it runs for it


class StepCall(BaseModel):
    """Run one step on one message (input of the ``run_step`` activity)."""

    flow_id: str
    flow_version: int
    execution_id: str
    step: Step
    message: Message
    passthrough: bool = True
    standby: int | None = Field(default=None, description="standby containers asked for (None: the worker's)")
    snapshot: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] | None = Field(default=None, description="the flow's variables (flows/model.py)")


class StepResult(BaseModel):
    messages: list[Message] = Field(default_factory=list, description="what the step emitted, ready for the next step")
    input_body: Any = Field(default=None, description="the body the step received, after its mapping")
    snapshot: dict[str, Any] | None = None
    http_reply: HttpReply | None = None
    duration_ms: float = 0.0


class StepBatchCall(BaseModel):
    """Run one step on many messages in one container (input of ``run_step_batch``)."""

    flow_id: str
    flow_version: int
    execution_id: str
    step: Step
    messages: list[Message]
    passthrough: bool = True
    standby: int | None = Field(default=None, description="standby containers asked for (None: the worker's)")
    variables: dict[str, Any] | None = Field(default=None, description="the flow's variables (flows/model.py)")


class BatchItem(BaseModel):
    """What became of one message of a batch. ``rebound`` ones go back to the one-message path,
    where the step's rebound policy retries them with backoff."""

    message: Message
    status: Literal["ok", "failed", "rebound"]
    outputs: list[Message] = Field(default_factory=list)
    input_body: Any = None
    error: str | None = None
    error_type: str | None = None
    http_reply: HttpReply | None = None


class StepBatchResult(BaseModel):
    items: list[BatchItem]
    duration_ms: float = 0.0


class StepRecord(BaseModel):
    """One step run on one message, as the API and the workflow's query show it."""

    step_id: str
    component: str
    message_id: str
    status: StepStatus
    emitted: int = 0
    error: str | None = None
    error_type: str | None = None
    input: Any = None
    output: Any = None
    duration_ms: float | None = None
    arrived: Message | None = Field(default=None, description="failures only: the message as it reached the step, "
                                    "before its mapping, when small (workflows/retry_input.py); a retry from the step "
                                    "starts from it")
    branch: str | None = Field(default=None, description="the router branch the step ran in, '<router id>/<branch "
                               "id>' (unset: the main line)")
    routes: list[str] | None = Field(default=None, description="router steps: the branches the message was sent down")
    handed_to: str | None = Field(default=None, description="window aggregates: the collector the message was handed "
                                  "to, 'aggregate:<flow>/<step>/<key hash>'; the message goes on in the run it starts")


class FlowRunInput(BaseModel):
    """One execution of a flow: the trigger message, or (for a branch) messages entering mid-flow."""

    flow: Flow
    execution_id: str
    message: Message | None = None
    start_at: int = Field(default=0, description=(
        "index into the flow's plan (flows/plan.py; the main line is flow.all_steps) where the messages enter"))
    messages: list[Message] = Field(default_factory=list, description="branch mode: messages entering at start_at")
    concurrency: int | None = Field(default=None, description="messages in flight at once; default flow.concurrency")
    gather_at: int | None = Field(default=None, description=(
        "a branch of a split's fan-out: the index of the aggregate step whose parts it hands back (in "
        "FlowRunResult.gathered) instead of running it"))
    grouped: bool = Field(default=False, description=(
        "message is already an aggregate's input (a window's messages): the aggregate step at start_at runs on it"))


class RunTotals(BaseModel):
    delivered: int = Field(default=0, description="messages that came out of the last step")
    filtered: int = Field(default=0, description="paths that ended early because a step emitted nothing")
    failed: int = 0
    step_runs: int = 0

    def add(self, other: "RunTotals") -> None:
        self.delivered += other.delivered
        self.filtered += other.filtered
        self.failed += other.failed
        self.step_runs += other.step_runs


class FlowRunResult(BaseModel):
    flow_id: str
    flow_version: int
    execution_id: str
    status: Literal["running", "completed", "failed"] = "running"
    totals: RunTotals = Field(default_factory=RunTotals)
    records: list[StepRecord] = Field(default_factory=list, description="the first records (capped); totals count all")
    records_dropped: int = 0
    failures: list[StepRecord] = Field(default_factory=list, description="failed step runs (capped)")
    http_reply: HttpReply | None = None
    outputs: list[Any] = Field(default_factory=list, description="bodies out of the last step (capped)")
    gathered: list[Message] = Field(default_factory=list, description=(
        "a branch run with gather_at: the parts that reached the aggregate step, for its parent to aggregate"))

    def failure_summary(self) -> str:
        """What a failed run says about itself: its failure, and a request-reply caller's answer."""
        first = self.failures[0] if self.failures else None
        where = f"step '{first.step_id}': {first.error}" if first else "see the run's failures"
        return f"{self.totals.failed} message(s) failed; first at {where}"


PollingState = Literal["running", "paused", "stopped"]


class PollingInput(BaseModel):
    """The polling entity of one flow: what it polls, its state and its snapshot, carried across
    continue-as-new."""

    flow: Flow
    state: PollingState = "running"
    snapshot: dict[str, Any] = Field(default_factory=dict)
    polls: int = 0
    last_poll_started: datetime | None = None


class PollingControl(BaseModel):
    """An operator's request (the ``control`` update): start, stop, pause, resume, run_now,
    reset_snapshot (to ``snapshot``), publish (a new ``flow`` version, used from the next poll)."""

    action: Literal["start", "stop", "pause", "resume", "run_now", "reset_snapshot", "publish"]
    flow: Flow | None = None
    snapshot: dict[str, Any] | None = None


class PollingStatus(BaseModel):
    flow_id: str
    flow_version: int
    state: PollingState
    snapshot: dict[str, Any]
    polls: int
    polling_now: bool
    next_poll_at: datetime | None = None
    last_poll: "PollRunResult | None" = None


class PollRunInput(BaseModel):
    flow: Flow
    snapshot: dict[str, Any] = Field(default_factory=dict)
    poll_number: int
    poller_run_id: str = ""  # the poller's first run id: poll message ids never repeat (flows/message_ids.py)


class PollRunResult(BaseModel):
    poll_number: int
    snapshot: dict[str, Any]
    snapshot_advanced: bool = False
    records: int = 0
    status: Literal["ok", "failed", "nothing-new"] = "ok"
    error: str | None = None
    totals: RunTotals = Field(default_factory=RunTotals)


PollingStatus.model_rebuild()
