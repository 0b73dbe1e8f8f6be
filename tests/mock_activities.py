"""Stand-ins for the step activities, registered under their real names (``run_step``,
``run_step_batch``) beside the real workflows, so the workflow logic runs on a real Temporal
server without containers (the way Temporal's samples test workflows).

Each step id gets a handler ``(message, attempt) -> bodies`` (sync or async): the bodies it returns
(or Messages, to emit metadata) are what the step emits; raising ``Fail`` is the step's ``error``,
``Rebound`` its ``rebound``, ``Crash`` a container that dies (a whole batch with it). A polling
trigger gets a handler ``(snapshot, attempt) -> Emit`` instead, which also returns the new
snapshot. Every call is recorded: which step, which message, whether alone or in a batch of how many.
"""

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker
from temporalio.workflow import NondeterminismError

from activities.hand_to_window import hand_to_window
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from flows.model import Flow, Step, Trigger
from flows.step_output import next_messages
from steps.protocol import Message
from workflows.aggregate_window import AggregateWindowWorkflow
from workflows.flow_run import FlowRunWorkflow
from workflows.models import BatchItem, StepBatchCall, StepBatchResult, StepCall, StepResult
from workflows.polling_flow import PollingFlowWorkflow, PollRunWorkflow

T = TypeVar("T")
REBOUND_DELAY = timedelta(milliseconds=50)  # a mock rebound is retried at once, not after 15 s


class Fail(Exception):
    """The step emits ``error`` for this message."""


class Rebound(Exception):
    """The step emits ``rebound`` for this message."""


class Crash(Exception):
    """The step's container dies: the activity fails (non-retryable here), for a batch every message."""


@dataclass
class Emit:
    """What a handler returns when it also sets the snapshot (a polling trigger)."""

    bodies: list[Any]
    snapshot: dict[str, Any] | None = None


Handler = Callable[[Message, int], list[Any] | Awaitable[list[Any]]]
TriggerHandler = Callable[[dict[str, Any], int], Emit | Awaitable[Emit]]


@dataclass(frozen=True)
class Call:
    """One message handed to a step: alone (``batch`` None) or in a batch of ``batch`` messages."""

    step_id: str
    message_id: str
    body: Any
    attempt: int
    batch: int | None = None
    snapshot: dict[str, Any] | None = None


def echo(message: Message, attempt: int) -> list[Any]:
    """The default handler: emit the body unchanged."""
    return [message.body]


@dataclass
class MockSteps:
    """The two activities, with a handler per step id (``echo`` for the others) and per polling trigger."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    triggers: dict[str, TriggerHandler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    batches: list[tuple[str, int]] = field(default_factory=list)

    def calls_to(self, step_id: str) -> list[Call]:
        return [call for call in self.calls if call.step_id == step_id]

    def batch_sizes(self, step_id: str) -> list[int]:
        return sorted((size for step, size in self.batches if step == step_id), reverse=True)

    @activity.defn(name="run_step")
    async def run_step(self, call: StepCall) -> StepResult:
        attempt = activity.info().attempt
        step, message = call.step, call.message
        self.calls.append(Call(step.id, message.id, message.body, attempt, snapshot=dict(call.snapshot)))
        try:
            if step.id in self.triggers:
                outcome = await settled(self.triggers[step.id](dict(call.snapshot), attempt))
            else:
                outcome = Emit(await settled(self.handlers.get(step.id, echo)(message, attempt)))
        except Fail as error:
            raise ApplicationError(f"step '{step.id}' failed: {error}", {"step": step.id, "input": message.body},
                                   type="StepError", non_retryable=True) from None
        except Rebound as error:
            raise ApplicationError(f"step '{step.id}' rebounded: {error}", type="Rebound",
                                   next_retry_delay=REBOUND_DELAY) from None
        except Crash as error:
            raise ApplicationError(f"step '{step.id}': {error}", {"detail": str(error)}, type="ContainerCrashed",
                                   non_retryable=True) from None
        return StepResult(messages=outputs(message, outcome.bodies, step, call.passthrough), input_body=message.body,
                          snapshot=outcome.snapshot)

    @activity.defn(name="run_step_batch")
    async def run_step_batch(self, call: StepBatchCall) -> StepBatchResult:
        attempt = activity.info().attempt
        step = call.step
        self.batches.append((step.id, len(call.messages)))
        items = []
        for message in call.messages:
            self.calls.append(Call(step.id, message.id, message.body, attempt, batch=len(call.messages)))
            try:
                bodies = await settled(self.handlers.get(step.id, echo)(message, attempt))
            except Fail as error:
                items.append(BatchItem(message=message, status="failed", input_body=message.body,
                                       error=f"step '{step.id}' failed: {error}", error_type="StepError"))
            except Rebound as error:
                items.append(BatchItem(message=message, status="rebound", input_body=message.body,
                                       error=str(error), error_type="Rebound"))
            except Crash as error:
                raise ApplicationError(f"step '{step.id}': {error}", {"detail": str(error)},
                                       type="ContainerCrashed", non_retryable=True) from None
            else:
                items.append(BatchItem(message=message, status="ok", input_body=message.body,
                                       outputs=outputs(message, bodies, step, call.passthrough)))
        return StepBatchResult(items=items)


async def settled(result: T | Awaitable[T]) -> T:
    """What a sync or async handler returned."""
    return await result if inspect.isawaitable(result) else result


def outputs(incoming: Message, bodies: list[Any], step: Step, passthrough: bool) -> list[Message]:
    """What the real activities make of emitted bodies (ids, passthrough, the request carried on); a
    handler that emits metadata too (a router, a splitter) returns Messages."""
    emitted = [body if isinstance(body, Message) else Message(body=body) for body in bodies]
    return next_messages(emitted, incoming, step, passthrough)


def make_flow(*step_ids: str, flow_id: str = "logic", concurrency: int = 10, trigger: Trigger | None = None,
              **extra: Any) -> Flow:
    """A flow of mock steps after a webhook trigger of a user's own (which runs as an activity, unlike the
    built-in one), or the given trigger."""
    return Flow(id=flow_id, name=f"Logic {flow_id}", concurrency=concurrency,
                trigger=trigger or Trigger(id="hook", component="signed-webhook", function="receive"),
                steps=[Step(id=step_id, component="mock", function="run") for step_id in step_ids], **extra)


async def connect_client(temporal_address: str, blob_dir: Path) -> Client:
    """A client with Conflux's data converter (pydantic payloads, large ones stored in ``blob_dir``)."""
    return await connect(PlatformSettings(temporal_address=temporal_address, blob_dir=blob_dir))


@contextlib.asynccontextmanager
async def mock_worker(client: Client, steps: MockSteps) -> AsyncIterator[str]:
    """The real workflows and the mock activities on a task queue of their own; yields its name."""
    task_queue = f"logic-{uuid.uuid4().hex[:12]}"
    worker = Worker(client, task_queue=task_queue, workflows=[FlowRunWorkflow, PollingFlowWorkflow, PollRunWorkflow,
                                                              AggregateWindowWorkflow],
                    activities=[steps.run_step, steps.run_step_batch, hand_to_window],  # the handover is no step
                    workflow_failure_exception_types=[NondeterminismError],
                    graceful_shutdown_timeout=timedelta(seconds=1))
    async with worker:
        yield task_queue


async def eventually(probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 20.0,
                     what: str = "the condition") -> Any:
    """Ask ``probe`` until ``check`` holds on its answer (returned), failing after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await probe()
        if check(answer):
            return answer
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g}s; last: {answer!r}")
        await asyncio.sleep(0.05)
