"""Starting one FlowRun for one message, at most once per (flow, message id).

The workflow id is ``{flow id}:{message id}``. A delivery repeated while the first run is going
is refused by Temporal (id conflict policy FAIL), and one repeated after it closed too (id reuse
policy REJECT_DUPLICATE); both answer WorkflowAlreadyStartedError, and the caller gets the first
run's ids with ``duplicate: true``. Either way nothing runs twice, for as long as Temporal keeps
the closed run (the namespace's retention period).
"""

import os
import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.errors import ApiError
from api.services import Services
from api.settings import ApiSettings
from flows.model import Flow
from flows.step_output import runs_in_platform
from steps.protocol import Message
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput
from workflows.search import flow_search_attributes

ID_HEADERS = ("idempotency-key", "x-request-id")
MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@+=~-]{1,200}$")
MESSAGE_ID_RULE = "1 to 200 characters from letters, digits and . _ : @ + = ~ -"


@dataclass(frozen=True)
class StartedRun:
    workflow_id: str
    run_id: str | None
    message_id: str
    duplicate: bool

    @property
    def execution_id(self) -> str:
        """The execution is named like its workflow: one message, one execution, one id."""
        return self.workflow_id


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


def workflow_id(flow: Flow, message_id: str) -> str:
    return f"{flow.id}:{message_id}"


async def start_run(services: Services, flow: Flow, message: Message) -> StartedRun:
    """Start the run for ``message`` unless this flow already ran (or runs) a message with its id:
    FAIL on a running one and REJECT_DUPLICATE on a closed one both answer WorkflowAlreadyStartedError."""
    client = await services.client()
    wid = workflow_id(flow, message.id)
    try:
        handle = await client.start_workflow(
            FlowRunWorkflow.run,
            FlowRunInput(flow=flow, execution_id=wid, message=message),
            id=wid,
            task_queue=services.settings.task_queue,
            search_attributes=flow_search_attributes(flow),
            static_summary=f"{flow.name} v{flow.version}: message {message.id}",
            static_details=steps_markdown(flow),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            request_eager_start=True,  # a worker sharing this client takes the first task from the answer
        )
    except WorkflowAlreadyStartedError as exc:
        return StartedRun(workflow_id=wid, run_id=exc.run_id, message_id=message.id, duplicate=True)
    return StartedRun(workflow_id=wid, run_id=handle.result_run_id, message_id=message.id, duplicate=False)


def steps_markdown(flow: Flow) -> str:
    """The static details the Temporal UI shows: what this run will execute."""
    lines = [f"**{flow.name}** (`{flow.id}` v{flow.version}, revision `{flow.revision()}`)", ""]
    for number, step in enumerate(flow.all_steps, start=1):
        role = f" — {flow.trigger.type} trigger" if number == 1 else ""
        role += " (run by the platform, no container)" if runs_in_platform(step) else ""
        lines.append(f"{number}. `{step.id}`: {step.component}/{step.function}{role}")
    return "\n".join(lines)


def links(settings: ApiSettings, wid: str) -> dict[str, str]:
    """Where to follow the run: the Temporal UI (which opens its latest run) and this API."""
    namespace = quote(settings.namespace, safe="")
    return {"temporalUi": f"{settings.temporal_ui_url}/namespaces/{namespace}/workflows/{quote(wid, safe='')}",
            "status": f"/executions/{quote(wid, safe=':')}"}
