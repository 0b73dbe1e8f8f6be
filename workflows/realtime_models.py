"""What crosses the boundaries of a real-time flow: the API's signal, the operators' update, the
status query, the local activities' calls and results, and the state carried across
continue-as-new. One model per call, so fields can be added without breaking running flows."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from flows.model import Flow
from steps.protocol import HttpReply, Message

RealtimeState = Literal["starting", "running", "stopping", "stopped"]
SIGNAL_MESSAGES = "messages"
UPDATE_RETRY = "retry"


def realtime_workflow_id(flow_id: str) -> str:
    return f"realtime:{flow_id}"


class MessageBatch(BaseModel):
    """The ``messages`` signal: what one API gather window accepted for one flow."""

    messages: list[Message]
    traceparents: dict[str, str] = Field(default_factory=dict, description=(
        "message id -> the W3C traceparent of the request that brought it (tracing on only)"))


class Queued(BaseModel):
    """A message waiting in the workflow: where it enters the flow and, after a rebound, which
    attempt comes next and when it is due."""

    message: Message
    start_at: int = Field(default=0, description="index into flow.all_steps")
    attempt: int = Field(default=1, description="attempt at the step start_at (1 unless it rebounded)")
    due: datetime | None = Field(default=None, description="a rebound's retry time")
    reply_to: str | None = Field(default=None, description=(
        "request-reply: the id of the message whose caller waits for what this one (or a part of it) produces"))
    traceparent: str | None = Field(default=None, description=(
        "the trace its processing continues: its request's (docs/observability.md \"Traces\")"))


class FailedMessage(BaseModel):
    """A message whose step emitted ``error`` (or rebounded too often, or whose container kept
    failing): kept, bounded, for operators; the stream went on."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    message_id: str
    step_id: str
    error: str
    error_type: str
    input: Any = None
    flow_version: int
    at: datetime | None = None
    arrived: Message | None = Field(default=None, description="the message as it reached the step, when small")
    entered: Queued | None = Field(default=None, description="the message as it entered the flow's processing "
                                     "(trigger, polled record, rebound), when small: a plain retry starts there")


class Counters(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    accepted: int = 0
    duplicates: int = 0
    delivered: int = Field(default=0, description="messages (or fan-out parts) out of the last step")
    filtered: int = Field(default=0, description="paths that ended because a step emitted nothing")
    failed: int = 0
    rebounds: int = 0
    batches: int = 0
    polls: int = 0


class RealtimeCarry(BaseModel):
    """Everything one run hands the next across continue-as-new."""

    flow: Flow
    state: RealtimeState = "starting"
    queue: list[Queued] = Field(default_factory=list)
    seen_ids: list[str] = Field(default_factory=list, description="the dedup window, oldest first")
    counters: Counters = Field(default_factory=Counters)
    failures: list[FailedMessage] = Field(default_factory=list)
    snapshot: dict[str, Any] = Field(default_factory=dict, description="a polling trigger's snapshot")
    last_poll_started: datetime | None = None
    runs: int = Field(default=1, description="this run's number in the chain of continue-as-new")


class RealtimeInput(BaseModel):
    """Start (or continue) a flow's long-lived workflow."""

    carry: RealtimeCarry
    max_history_events: int | None = Field(
        default=None, description="continue-as-new past this many events (tests); else when Temporal suggests it")


class RealtimeControl(BaseModel):
    """An operator's request (the ``control`` update): start, stop (drain, then stop the
    containers), publish (warm the new version's containers, switch, retire the old ones)."""

    action: Literal["start", "stop", "publish"]
    flow: Flow | None = None


class RealtimeStatus(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    flow_id: str
    flow_version: int
    state: RealtimeState
    workflow_id: str
    counters: Counters
    waiting: int = Field(description="accepted messages not yet taken into a batch (incl. rebounds not yet due)")
    in_flight: int = Field(description="messages in batches being processed now")
    publishing_version: int | None = None
    warm_up_ms: float | None = None
    warm_up_error: str | None = None
    latency_p50_ms: float | None = Field(default=None, description="batch processing time, recent batches")
    latency_p99_ms: float | None = None
    recent_failures: list[FailedMessage] = Field(default_factory=list)
    continued_as_new: int = 0


class WarmUpCall(BaseModel):
    flow: Flow


class WarmUpResult(BaseModel):
    containers: int
    milliseconds: float


class BatchCall(BaseModel):
    """Carry queued messages through the flow's warm containers, each from its own step."""

    flow: Flow
    items: list[Queued]


class Retry(BaseModel):
    """A message (or one fan-out part) that rebounded: retried from its step after ``delay``."""

    queued: Queued
    delay: float
    reason: str


class StepFailed(BaseModel):
    message_id: str
    step_id: str
    error: str
    error_type: str
    input: Any = None
    arrived: Message | None = None
    entered: Queued | None = None


class RealtimeRetry(BaseModel):
    """The ``retry`` update (POST /flows/{id}/errors/retry): a failed message again, entering at
    ``start_at``. Queued directly, because the ``messages`` signal drops an id it has seen."""

    message: Message
    start_at: int = Field(default=0, description="index into flow.all_steps")
    retry_of: str = Field(default="", description="the failed execution retried: the history names it")


class ReplyDelta(BaseModel):
    """What one batch did toward the reply of a message whose caller waits (request-reply)."""

    message_id: str
    entered: int = Field(default=0, description="parts of the message this batch took")
    requeued: int = Field(default=0, description="parts that rebounded: a later batch takes them")
    http_reply: HttpReply | None = None
    outputs: list[Any] = Field(default_factory=list, description="bodies out of the last step (capped)")
    error: str | None = None


class BatchResult(BaseModel):
    """Totals, not outputs: the history keeps this, so it stays small whatever went through. Only
    messages a caller waits on (request-reply) come back with what they produced."""

    delivered: int = 0
    filtered: int = 0
    failures: list[StepFailed] = Field(default_factory=list)
    retries: list[Retry] = Field(default_factory=list)
    milliseconds: float = 0.0
    replies: list[ReplyDelta] = Field(default_factory=list)


class PollCall(BaseModel):
    flow: Flow
    snapshot: dict[str, Any]
    poll_number: int
    poller_run_id: str = ""  # the flow workflow's first run id: poll message ids never repeat


class PollResult(BaseModel):
    messages: list[Message]
    snapshot: dict[str, Any] | None = None
    error: str | None = None


class RetireCall(BaseModel):
    flow_id: str
    keep_version: int | None = Field(default=None, description="retire every version but this one (None: all)")
