"""Models and framing of the step protocol, version 1 (docs/step-protocol.md)."""

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from steps.errors import PayloadTooLarge, ProtocolViolation

PROTOCOL_VERSION = 1
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
EXCERPT_CHARS = 300

RequestType = Literal["process", "verifyCredentials", "getMetaModel", "selectModel"]


class Message(BaseModel):
    """A message as it travels between steps (the ``msg`` of the protocol)."""

    id: str = ""
    body: Any = Field(default_factory=dict)
    headers: dict[str, Any] = Field(default_factory=dict)
    attachments: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    passthrough: dict[str, Any] = Field(default_factory=dict)
    method: str | None = None
    url: str | None = None
    query: dict[str, Any] | None = None
    path: str | None = None
    idempotencyKey: str | None = None  # set per step request (flows/message_ids.py), never carried on
    passthroughHeaders: dict[str, dict[str, Any]] | None = None  # step id -> headers that step emitted itself


class StepRequest(BaseModel):
    id: str
    type: RequestType = "process"
    function: str | None = None
    msg: Message | None = None
    cfg: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    method: str | None = None
    variables: dict[str, Any] | None = None  # the flow's variables (process requests; left out when it has none)
    traceparent: str | None = None  # W3C trace context of the message's trace (left out while tracing is off)

    def encode(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> bytes:
        line = self.model_dump_json(exclude_none=True).encode("utf-8") + b"\n"
        if len(line) > max_line_bytes:
            raise PayloadTooLarge(
                f"request {self.id} is {len(line):,} bytes, above the {max_line_bytes:,}-byte line limit; "
                "pass large data by reference (an attachment URL) or raise CONFLUX_MAX_LINE_BYTES"
            )
        return line


class ErrorInfo(BaseModel):
    name: str = "Error"
    message: str = ""
    stack: str | None = None


class HttpReply(BaseModel):
    statusCode: int = 200
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


class RequestOutcome(BaseModel):
    """Everything one request produced, in the order it was emitted."""

    id: str
    data: list[Message] = Field(default_factory=list)
    error: ErrorInfo | None = None
    rebound: ErrorInfo | None = None
    rebound_delay: float | None = None
    snapshot: dict[str, Any] | None = None
    snapshot_replaced: bool = False
    keys: dict[str, Any] | None = None
    http_reply: HttpReply | None = None
    result: Any = None
    ended: bool = False

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the outcome; a malformed event is a protocol violation."""
        kind = event.get("type")
        try:
            if kind == "data":
                self.data.append(Message.model_validate(event["msg"]))
            elif kind == "error":
                self.error = ErrorInfo.model_validate(event["error"])
            elif kind == "rebound":
                self.rebound = ErrorInfo.model_validate(event["error"])
                self.rebound_delay = event.get("delay")
            elif kind == "snapshot":
                self.snapshot = dict(event["snapshot"])
                self.snapshot_replaced = True
            elif kind == "updateSnapshot":
                self.snapshot = {**(self.snapshot or {}), **event["snapshot"]}
            elif kind == "updateKeys":
                self.keys = {**(self.keys or {}), **event["keys"]}
            elif kind == "httpReply":
                self.http_reply = HttpReply.model_validate(event["reply"])
            elif kind == "result":
                self.result = event.get("result")
            elif kind == "end":
                self.ended = True
            else:
                raise ProtocolViolation(f"unknown event type {kind!r}", detail=excerpt(json.dumps(event)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolViolation(
                f"malformed '{kind}' event: {exc}", detail=excerpt(json.dumps(event, default=str))
            ) from None

    def merged_snapshot(self, before: dict[str, Any]) -> dict[str, Any]:
        """The step's state after this request, given the state it started with."""
        if self.snapshot is None:
            return before
        return dict(self.snapshot) if self.snapshot_replaced else {**before, **self.snapshot}


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.rstrip("\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"


def decode_event(line: bytes) -> dict[str, Any]:
    """Parse one stdout line; anything that is not a typed JSON object is garbage on the wire."""
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolViolation(
            "the container printed something that is not a step-protocol event on stdout "
            "(components must log to stderr; see docs/step-protocol.md)",
            detail=excerpt(line),
        )
    return event
