"""What crosses the workflow/activity/API boundary. Every call takes one model, so fields can be
added later without breaking workflows that are already running."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from flows.model import Flow, Step
from steps.protocol import HttpReply, Message

StepStatus = Literal["ok", "failed"]


class StepCall(BaseModel):
    """Run one step on one message (input of the ``run_step`` activity)."""

    flow_id: str
    flow_version: int
    execution_id: str
    step: Step
    message: Message
    passthrough: bool = True
    snapshot: dict[str, Any] = Field(default_factory=dict)


class StepResult(BaseModel):
    messages: list[Message] = Field(default_factory=list, description="what the step emitted, ready for the next step")
    input_body: Any = Field(default=None, description="the body the step received, after its mapping")
    snapshot: dict[str, Any] | None = None
    http_reply: HttpReply | None = None
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


class FlowRunInput(BaseModel):
    """One execution of a flow: the trigger message, or (for a branch) messages entering mid-flow."""

    flow: Flow
    execution_id: str
    message: Message | None = None
    start_at: int = Field(default=0, description="index into flow.all_steps where the messages enter")
    messages: list[Message] = Field(default_factory=list, description="branch mode: messages entering at start_at")
    concurrency: int | None = Field(default=None, description="messages in flight at once; default flow.concurrency")


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
