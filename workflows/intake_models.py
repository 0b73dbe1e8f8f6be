"""What crosses the boundaries of an ordinary flow's intake workflow (workflows/intake.py)."""

from pydantic import BaseModel, Field

from flows.model import Flow
from steps.protocol import Message

SIGNAL_INTAKE = "messages"


def intake_workflow_id(flow_id: str) -> str:
    return f"intake:{flow_id}"


class IntakeBatch(BaseModel):
    """The ``messages`` signal: what one API gather window accepted for one flow, with the flow
    version it was accepted for (a publish in between does not change it)."""

    flow: Flow
    messages: list[Message]
    traceparents: dict[str, str] = Field(default_factory=dict, description=(
        "message id -> the W3C traceparent of the request that brought it (tracing on only)"))


class IntakeInput(BaseModel):
    flow_id: str
    pending: list[IntakeBatch] = Field(default_factory=list, description="carried over a continue-as-new")
    started: int = Field(default=0, description="runs started by this intake so far, across continue-as-new")
    idle_seconds: float = Field(default=60.0, gt=0, description="ends after this long without a message")
    max_history_events: int = Field(default=10_000, ge=20, description="continues as new past this many events")


class StartRunsCall(BaseModel):
    """Input of the ``start_runs`` activity: one FlowRun per message, ids as the API's."""

    flow: Flow
    messages: list[Message]
    traceparents: dict[str, str] = Field(default_factory=dict, description=(
        "message id -> the W3C traceparent of the request that brought it (tracing on only)"))
    runs_in_flight: int = Field(default=2, ge=1, description="runs started and not yet ended at any moment")


class StartRunsResult(BaseModel):
    started: int
    duplicates: int = Field(description="messages whose run existed already (a repeat, or an activity retry)")
