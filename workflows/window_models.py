"""What crosses the boundaries of a window aggregate: the handover activity and the collector workflow
(flows/aggregate_window.py says what a window is)."""

from typing import Any

from pydantic import BaseModel, Field

from flows.model import Flow
from steps.protocol import Message


class WindowHandover(BaseModel):
    """A FlowRun's message reaching a window aggregate (input of the ``hand_to_window`` activity)."""

    flow: Flow
    step_index: int = Field(description="the aggregate step's index in the flow's plan (flows/plan.py)")
    message: Message


class WindowHandedOver(BaseModel):
    window_id: str = Field(description="the collector's workflow id, aggregate:<flow>/<step>/<key hash>")
    key: Any = None


class WindowInput(BaseModel):
    """One window of a collector; a window closing with messages left over continues as new with them."""

    flow: Flow = Field(description="the flow as the run that started the collector had it")
    step_index: int
    key: Any = None
    messages: list[Message] = Field(default_factory=list, description="carried over from the window before")
    windows: int = Field(default=0, description="windows this collector closed before this one")


class WindowResult(BaseModel):
    execution_id: str | None = Field(default=None, description="the run started with the window's messages")
    messages: int = 0
