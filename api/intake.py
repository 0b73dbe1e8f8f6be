"""Accepting one message for a flow, whatever runs it: an ordinary flow starts a FlowRun for it
(or, in a flood, hands it to the flow's intake, which starts the run: workflows/intake.py); a
real-time flow that runs hands it to its long-lived workflow through the signal bridge."""

import asyncio
import math
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from api.errors import ApiError
from api.routes.realtime import require_running
from api.runs import start_run
from api.services import Services
from conflux.flow_runs import run_for_reply, workflow_id
from flows.model import Flow, RateLimit
from steps.protocol import Message
from workflows.realtime_models import realtime_workflow_id
from workflows.replies import FlowReply, ReplyRequest

T = TypeVar("T")
REPLY_GRACE_SECONDS = 5.0  # how much longer than its caller a workflow holds a reply's place


@dataclass(frozen=True)
class Accepted:
    """``execution_id`` names this message's execution; ``workflow_id`` the Temporal workflow
    that runs it (the same for an ordinary flow, the flow's own ``realtime:<id>`` for a real-time one)."""

    execution_id: str
    workflow_id: str
    run_id: str | None
    message_id: str
    duplicate: bool
    reply: FlowReply | None = None


async def accept_message(services: Services, flow: Flow, message: Message,
                         reply: ReplyRequest | None = None) -> Accepted:
    """Durable once this returns; 409 for a real-time flow that is not running, 429 past the
    flow's rate limit or its cap on messages in flight. An ordinary flow's message in the intake
    has its execution id before its run exists. With ``reply``, returns once the flow answered
    (or the wait timed out)."""
    _require_taking_messages(services, flow)
    if flow.rate_limit is not None:
        _admit(services, flow, flow.rate_limit)
    if flow.max_in_flight is not None:
        await services.in_flight.admit(flow, flow.max_in_flight)
    accepted = await _accept(services, flow, message, reply)
    if not accepted.duplicate:
        services.in_flight.accepted(flow.id)
    return accepted


async def _accept(services: Services, flow: Flow, message: Message, reply: ReplyRequest | None) -> Accepted:
    if reply is not None:
        return await _accept_for_reply(services, flow, message, reply)
    if flow.type == "realtime":
        duplicate = await services.bridge.deliver(flow, message)
        return Accepted(execution_id=workflow_id(flow, message.id), workflow_id=realtime_workflow_id(flow.id),
                        run_id=None, message_id=message.id, duplicate=duplicate)
    if services.direct_starts.to_intake(flow.id):
        duplicate = await services.intake.deliver(flow, message)  # a flood: its runs start from the intake
        return Accepted(execution_id=workflow_id(flow, message.id), workflow_id=workflow_id(flow, message.id),
                        run_id=None, message_id=message.id, duplicate=duplicate)
    with services.direct_starts.starting():
        started = await start_run(services, flow, message)
    return Accepted(execution_id=started.execution_id, workflow_id=started.workflow_id, run_id=started.run_id,
                    message_id=started.message_id, duplicate=started.duplicate)


async def _accept_for_reply(services: Services, flow: Flow, message: Message, reply: ReplyRequest) -> Accepted:
    """Request-reply: an update (with start) to the run's workflow, which answers when the flow did.
    The API stops waiting after the timeout (``timeout``: 504); the workflow keeps the update a
    grace longer, then lets it go. The start is durable either way, and the same message id later
    joins the run or gets its closed run's answer."""
    execution_id = workflow_id(flow, message.id)
    kept = reply.model_copy(update={"timeout_seconds": reply.timeout_seconds + REPLY_GRACE_SECONDS})
    if flow.type == "realtime":
        wid = realtime_workflow_id(flow.id)
        answer = await _within(reply, services.signals.realtime_reply(flow, message, kept))
        return Accepted(execution_id=execution_id, workflow_id=wid, run_id=None, message_id=message.id,
                        duplicate=answer.status == "duplicate", reply=answer)
    waited = await _within(reply, run_for_reply(await services.client(), services.settings.task_queue, flow,
                                                message, kept))
    if isinstance(waited, FlowReply):
        return Accepted(execution_id=execution_id, workflow_id=execution_id, run_id=None, message_id=message.id,
                        duplicate=False, reply=waited)
    started, answer = waited
    return Accepted(execution_id=started.execution_id, workflow_id=started.workflow_id, run_id=started.run_id,
                    message_id=message.id, duplicate=started.duplicate, reply=answer)


async def _within(reply: ReplyRequest, waiting: Coroutine[Any, Any, T]) -> T | FlowReply:
    """The answer, or ``timeout`` once the caller waited long enough. The update is not cancelled
    (a cancelled update-with-start leaves the SDK's own futures unread): it ends in the workflow a
    grace later, and its answer is dropped."""
    task = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({task}, timeout=reply.timeout_seconds)
    if task in done:
        return task.result()
    _lingering.add(task)
    task.add_done_callback(_forget)
    return FlowReply(status="timeout")


def _forget(task: "asyncio.Future[Any]") -> None:
    _lingering.discard(task)
    if not task.cancelled():
        task.exception()  # read, so asyncio does not log it as never retrieved


_lingering: set["asyncio.Future[Any]"] = set()


def _require_taking_messages(services: Services, flow: Flow) -> None:
    """409, with the way out: a real-time flow that is not running, an ordinary webhook flow stopped."""
    if flow.type == "realtime":
        require_running(flow, services.flows.state(flow.id))
    elif flow.trigger.type == "webhook" and services.flows.state(flow.id) == "stopped":
        raise ApiError(409, f"flow '{flow.id}' is stopped, so it accepts no messages; start it with "
                            f"POST /flows/{flow.id}/start (runs it already accepted went on)")


def _admit(services: Services, flow: Flow, limit: RateLimit) -> None:
    """On the event loop, as the message-id claims: a thread hop costs more than the statement."""
    wait = services.rate_limits.admit(flow.id, limit)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise ApiError(429, f"flow '{flow.id}' takes {limit.per_second:g} message(s) per second (bursts of "
                            f"{limit.burst_size}); nothing was started: send again in {retry_after} s "
                            "(Retry-After) or raise the flow's rate_limit", headers={"Retry-After": str(retry_after)})
