"""Request-reply: what a caller waiting on a flow gets back, and when it is ready.

A caller asks for ``first`` (the first ``httpReply`` a step emits; a run that ends without one
answers with its last output) or ``last`` (the last step's output). The FlowRun workflow answers
its ``reply`` update with it; a real-time flow's workflow its ``deliver_and_reply`` update; the
API turns it into the HTTP answer (api/replies.py). Pure functions: workflows and the API share them.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

from steps.protocol import HttpReply, Message
from workflows.models import MAX_OUTPUTS, FlowRunResult
from workflows.realtime_models import ReplyDelta

ReplyMode = Literal["first", "last"]
ReplyStatus = Literal["replied", "completed", "failed", "timeout", "duplicate"]


class ReplyRequest(BaseModel):
    """What the caller waits for, and how long the workflow keeps the answer's place (the API waits
    a little less: a real-time flow's timer cannot fire while a batch holds its workflow task)."""

    mode: ReplyMode = "first"
    timeout_seconds: float = Field(default=30.0, gt=0)


class FlowReply(BaseModel):
    """``replied``: a step's httpReply; ``completed``: the run ended, ``outputs`` are its last step's
    bodies (empty: filtered); ``failed``: ``error`` says where; ``timeout``: still running;
    ``duplicate``: a real-time flow saw this message id before (its answer went to that request)."""

    status: ReplyStatus
    http_reply: HttpReply | None = None
    outputs: list[Any] = Field(default_factory=list)
    error: str | None = None


class ReplyProgress(BaseModel):
    """What one message has produced so far toward its reply. ``open_parts`` counts the parts of it
    (a fan-out's outputs, a rebound's retry) still on their way; the run is over for it at 0."""

    open_parts: int = 1
    http_reply: HttpReply | None = None
    outputs: list[Any] = Field(default_factory=list)
    error: str | None = None

    def ready(self, mode: ReplyMode) -> bool:
        return self.open_parts <= 0 or (mode == "first" and self.http_reply is not None)

    def reply(self, mode: ReplyMode) -> FlowReply:
        """The answer once ``ready``: an httpReply wins in ``first`` mode, whatever came after it."""
        if mode == "first" and self.http_reply is not None:
            return FlowReply(status="replied", http_reply=self.http_reply)
        if self.error is not None:
            return FlowReply(status="failed", error=self.error)
        return FlowReply(status="completed", outputs=self.outputs)

    def add_output(self, body: Any) -> None:
        if len(self.outputs) < MAX_OUTPUTS:
            self.outputs.append(body)

    def add_http_reply(self, reply: HttpReply | None) -> None:
        if reply is not None and self.http_reply is None:
            self.http_reply = reply

    def add_error(self, error: str) -> None:
        if self.error is None:
            self.error = error

    def merge(self, delta: ReplyDelta) -> None:
        """What one batch did for the message: parts it took, parts it sent round again, and the
        rest as the add_ methods keep it."""
        self.open_parts += delta.requeued - delta.entered
        self.add_http_reply(delta.http_reply)
        for body in delta.outputs:
            self.add_output(body)
        if delta.error is not None:
            self.add_error(delta.error)


class RealtimeReplyCall(BaseModel):
    """The ``deliver_and_reply`` update: one message for a real-time flow, and what its caller waits for."""

    message: Message
    reply: ReplyRequest
    traceparent: str | None = None  # the caller's request's trace, which the message's processing continues


def run_reply(result: FlowRunResult, mode: ReplyMode, finished: bool) -> FlowReply | None:
    """A FlowRun's answer from its report; None while the caller must still wait."""
    if mode == "first" and result.http_reply is not None:
        return FlowReply(status="replied", http_reply=result.http_reply)
    if not finished:
        return None
    if result.totals.failed:
        return FlowReply(status="failed", error=result.failure_summary())
    return FlowReply(status="completed", outputs=result.outputs)
