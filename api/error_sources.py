"""Finding what a retry needs from an error, where its failure is kept: the failed FlowRun's
report (and its start event, for the message it started with) or the real-time workflow's
recent failures.

A plain retry reads the trigger message from the failed run's first history event, with the
client's data converter (so a large message stored by claim comes back too): nothing more is
written for it into any run's history. A retry from the step uses the message as it reached the
failed step, which the failure keeps when small (workflows/retry_input.py).
"""

import asyncio
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.error_ids import ErrorRef, RunFailure
from api.error_list import fetch_failed_run_result, realtime_error_id, realtime_failures
from api.store import FlowStore
from flows.message_ids import entry_of
from flows.plan import plan_flow
from steps.protocol import Message
from workflows.models import FlowRunInput


class UnknownError(LookupError):
    """The error is not (or no longer) where its id says; the text says why."""


@dataclass(frozen=True)
class Entry:
    """A message and the step (by id; None: the trigger) where it entered the failed execution."""

    message: Message
    step_id: str | None


@dataclass(frozen=True)
class FoundError:
    error_id: str
    step_id: str
    message_id: str
    error: str | None
    arrived: Message | None
    failed_workflow_id: str
    failed_run_id: str | None
    ref: ErrorRef
    entered: Entry | None = None  # real-time failures only; a run's is read from its history on demand


async def find_error(client: Client, store: FlowStore, flow_id: str, error_id: str, ref: ErrorRef) -> FoundError:
    if isinstance(ref, RunFailure):
        return await _run_error(client, flow_id, error_id, ref)
    for failure in await realtime_failures(client, flow_id):
        if (failure.message_id, failure.step_id) == (ref.message_id, ref.step_id) \
                and realtime_error_id(failure) == error_id:
            entered = None
            if failure.entered is not None:
                entered = Entry(failure.entered.message,
                                await _step_id(store, flow_id, failure.flow_version, failure.entered.start_at))
            return FoundError(error_id=error_id, step_id=failure.step_id, message_id=failure.message_id,
                              error=failure.error, arrived=failure.arrived, entered=entered,
                              failed_workflow_id=f"{flow_id}:{failure.message_id}", failed_run_id=None, ref=ref)
    raise UnknownError(f"real-time flow '{flow_id}' keeps its most recent failures only, and this one "
                       "is not among them (any more)")


async def _run_error(client: Client, flow_id: str, error_id: str, ref: RunFailure) -> FoundError:
    try:
        result = await fetch_failed_run_result(client, ref.workflow_id, ref.run_id)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        raise UnknownError(f"Temporal has no run '{ref.workflow_id}' ({ref.run_id}) any more (closed runs are "
                           "kept for the namespace's retention period)") from None
    if result is None or result.flow_id != flow_id or ref.index >= len(result.failures):
        raise UnknownError(f"run '{ref.workflow_id}' has no such failure of flow '{flow_id}'")
    failure = result.failures[ref.index]
    return FoundError(error_id=error_id, step_id=failure.step_id, message_id=failure.message_id,
                      error=failure.error, arrived=failure.arrived, failed_workflow_id=ref.workflow_id,
                      failed_run_id=ref.run_id, ref=ref)


async def entry_of_error(client: Client, found: FoundError) -> Entry | None:
    """The message the failed execution started with (for a polled record or a fan-out branch:
    the one entering message the failed one came from); None when it is not known."""
    if not isinstance(found.ref, RunFailure):
        return found.entered
    started = await started_with(client, found.ref.workflow_id, found.ref.run_id)
    step_id = plan_flow(started.flow).steps[started.start_at].id if started.start_at else None
    if started.message is not None:
        return Entry(started.message, step_id)
    entries = {message.id: message for message in started.messages}
    entry = entry_of(found.message_id, list(entries))
    return Entry(entries[entry], step_id) if entry is not None else None


async def started_with(client: Client, workflow_id: str, run_id: str) -> FlowRunInput:
    """A FlowRun's input, from its first history event."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [started] = await client.data_converter.decode(payloads, [FlowRunInput])
        return started
    raise UnknownError(f"run '{workflow_id}' ({run_id}) has no history")


async def _step_id(store: FlowStore, flow_id: str, version: int, index: int) -> str | None:
    """The id of step ``index`` of that version (None: the trigger)."""
    stored = await asyncio.to_thread(store.get, flow_id, version) if index else None
    steps = plan_flow(stored.flow).steps if stored is not None else []
    return steps[index].id if index < len(steps) else None
