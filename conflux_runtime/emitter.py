"""The ``emit`` object a component function receives: one per request."""

import traceback
from collections.abc import Callable
from typing import Any

from conflux_runtime.errors import ComponentError, Rebound
from conflux_runtime.logs import Logger, write_log

Send = Callable[[dict[str, Any]], None]


def describe_error(error: BaseException | str) -> dict[str, Any]:
    if isinstance(error, (Rebound, ComponentError)):
        return {"name": type(error).__name__, "message": str(error)}
    if isinstance(error, BaseException):
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return {"name": type(error).__name__, "message": str(error), "stack": stack[-8000:]}
    return {"name": "Error", "message": str(error)}


class Emitter:
    """Sends events for one request. After ``end`` (explicit or automatic) further emits are dropped
    with a warning, because the platform has already moved on."""

    def __init__(self, request_id: str, send: Send, flow_variables: dict[str, Any] | None = None) -> None:
        self.request_id = request_id
        self._send = send
        self.ended = False
        self.log = Logger(request_id)
        self.flow_variables: dict[str, Any] = dict(flow_variables or {})
        """The flow's variables (the request's ``variables``; elastic.io's ``this.getFlowVariables()``)."""

    def _event(self, kind: str, **fields: Any) -> None:
        if self.ended:
            write_log("warning", f"'{kind}' emitted after end was ignored", self.request_id)
            return
        self._send({"id": self.request_id, "type": kind, **fields})

    def data(self, body: Any, *, headers: dict[str, Any] | None = None,
             attachments: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        """One output message; call it as often as there are messages (a splitter calls it N times).
        ``metadata`` is merged into the message's metadata, which later steps keep."""
        msg: dict[str, Any] = {"body": body}
        if headers:
            msg["headers"] = headers
        if attachments:
            msg["attachments"] = attachments
        if metadata:
            msg["metadata"] = metadata
        self._event("data", msg=msg)

    def error(self, error: BaseException | str) -> None:
        """This message failed for good; the platform records it with its input."""
        self._event("error", error=describe_error(error))

    def rebound(self, error: BaseException | str, delay: float | None = None) -> None:
        """Temporary failure: the platform retries this message later with backoff."""
        fields: dict[str, Any] = {"error": describe_error(error)}
        if delay is not None:
            fields["delay"] = delay
        self._event("rebound", **fields)

    def snapshot(self, state: dict[str, Any]) -> None:
        """Replace the step's saved state."""
        self._event("snapshot", snapshot=state)

    def update_snapshot(self, changes: dict[str, Any]) -> None:
        """Shallow-merge into the step's saved state."""
        self._event("updateSnapshot", snapshot=changes)

    def update_keys(self, keys: dict[str, Any]) -> None:
        """Refreshed credential fields (e.g. OAuth tokens): the platform merges them into the step's
        stored credential, and the next request's ``cfg`` carries them."""
        self._event("updateKeys", keys=keys)

    def http_reply(self, status_code: int = 200, body: Any = None,
                   headers: dict[str, str] | None = None) -> None:
        """A reply for the HTTP caller. The platform records it on the run's result; no caller
        receives it yet (planned: request-reply webhook flows)."""
        self._event("httpReply", reply={"statusCode": status_code, "body": body, "headers": headers or {}})

    def result(self, value: Any) -> None:
        """The answer of a service call (verifyCredentials, getMetaModel, selectModel)."""
        self._event("result", result=value)

    def end(self) -> None:
        """Processing of this request is over. The runtime calls it for you when your function returns."""
        if not self.ended:
            self._send({"id": self.request_id, "type": "end"})
            self.ended = True
