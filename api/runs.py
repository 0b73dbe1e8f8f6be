"""Starting a run from an HTTP request: the message id it carries (or a fresh one), the run
itself (conflux/flow_runs.py), and where to follow it."""

import os
import re
import uuid
from urllib.parse import quote

from fastapi import Request

from api.errors import ApiError
from api.services import Services
from api.settings import ApiSettings
from conflux.flow_runs import StartedRun, start_flow_run
from flows.model import Flow
from steps.protocol import Message

ID_HEADERS = ("idempotency-key", "x-request-id")
MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@+=~-]{1,200}$")
MESSAGE_ID_RULE = "1 to 200 characters from letters, digits and . _ : @ + = ~ -"


def message_id(request: Request) -> str:
    """The caller's Idempotency-Key (or X-Request-Id), else a fresh uuid4."""
    for header in ID_HEADERS:
        value = request.headers.get(header)
        if value is not None:
            value = value.strip()
            if not MESSAGE_ID_PATTERN.match(value):
                raise ApiError(400, f"the {header} header {value[:60]!r} is not a usable message id: "
                                    f"use {MESSAGE_ID_RULE} (a UUID is a good choice)")
            return value
    return new_message_id()


def new_message_id() -> str:
    """A random (version 4) UUID, its randomness drawn 1,024 ids at a time: one getrandom() call
    per request showed in the intake profile."""
    global _random_bytes
    if not _random_bytes:
        _random_bytes = memoryview(os.urandom(16 * 1024))
    chunk, _random_bytes = _random_bytes[:16], _random_bytes[16:]
    return str(uuid.UUID(bytes=bytes(chunk), version=4))


def _forget_random_bytes() -> None:
    global _random_bytes
    _random_bytes = memoryview(b"")


_random_bytes = memoryview(b"")
os.register_at_fork(after_in_child=_forget_random_bytes)  # a forked API process must not repeat our ids


async def start_run(services: Services, flow: Flow, message: Message) -> StartedRun:
    return await start_flow_run(await services.client(), services.settings.task_queue, flow, message)


def links(settings: ApiSettings, wid: str) -> dict[str, str]:
    """Where to follow the run: the Temporal UI (which opens its latest run) and this API."""
    namespace = quote(settings.namespace, safe="")
    return {"temporalUi": f"{settings.temporal_ui_url}/namespaces/{namespace}/workflows/{quote(wid, safe='')}",
            "status": f"/executions/{quote(wid, safe=':')}"}
