"""The ``start_runs`` activity: an intake's waiting messages become FlowRun workflows."""

import asyncio
import contextlib

from temporalio import activity

from activities.heartbeat import heartbeating
from conflux.flow_runs import start_flow_run
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
            started = await start_flow_run(client, task_queue, call.flow, message)
            if not started.duplicate:
                with contextlib.suppress(Exception):  # how (and when) the run ends is the run's business
                    await asyncio.wait_for(client.get_workflow_handle(started.workflow_id).result(), RUN_WAIT)
        return started.duplicate

    async with heartbeating():
        duplicates = await asyncio.gather(*(run(message) for message in call.messages))
    return StartRunsResult(started=duplicates.count(False), duplicates=duplicates.count(True))
