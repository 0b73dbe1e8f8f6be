"""The ``start_runs`` activity: an intake's waiting messages become FlowRun workflows."""

import asyncio
import contextlib

from opentelemetry.trace import SpanKind
from temporalio import activity

from activities.heartbeat import heartbeating
from conflux.flow_runs import start_flow_run
from conflux.trace_context import context_of, current_traceparent, links_to
from conflux.tracing import span
from steps.protocol import Message
from workflows.intake_models import StartRunsCall, StartRunsResult

RUN_WAIT = 30.0  # a slow run is not waited for longer: the next one starts


@activity.defn(name="start_runs")
async def start_runs(call: StartRunsCall) -> StartRunsResult:
    """Start each message's run and wait for it to end, ``runs_in_flight`` at a time (the intake
    decides how many). Idempotent: a run that exists already (this activity retried, or the API
    started it) counts as a duplicate."""
    client = activity.client()
    task_queue = activity.info().task_queue
    room = asyncio.Semaphore(call.runs_in_flight)

    async def run(message: Message) -> bool:
        async with room:
            with in_message_trace(call.traceparents.get(message.id), message.id):
                started = await start_flow_run(client, task_queue, call.flow, message)
            if not started.duplicate:
                with contextlib.suppress(Exception):  # how (and when) the run ends is the run's business
                    await asyncio.wait_for(client.get_workflow_handle(started.workflow_id).result(), RUN_WAIT)
        return started.duplicate

    async with heartbeating():
        duplicates = await asyncio.gather(*(run(message) for message in call.messages))
    return StartRunsResult(started=duplicates.count(False), duplicates=duplicates.count(True))


def in_message_trace(traceparent: str | None, message_id: str) -> contextlib.AbstractContextManager[None]:
    """With tracing on, the run starts in the trace of the request that brought its message (the
    intake only made it wait), linked to this activity's span; else as any other start."""
    context = context_of(traceparent)
    if context is None:
        return contextlib.nullcontext()
    return span(f"start run of {message_id}", {"conflux.message_id": message_id}, context=context,
                links=links_to([current_traceparent()]), kind=SpanKind.PRODUCER)
