"""Start a worker: ``python -m worker``. SIGTERM/SIGINT drain it: running steps get
``graceful_shutdown_seconds`` to finish; what does not finish is retried by Temporal elsewhere."""

import asyncio
import logging
import signal
from collections.abc import Mapping
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.workflow import NondeterminismError

from activities.realtime import RealtimeActivities
from activities.run_step import StepActivities
from catalog.components import ComponentInfo, load_catalog
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from steps.pool import WarmPool
from steps.runner import StepRunner, make_runner
from workflows.flow_run import FlowRunWorkflow
from workflows.polling_flow import PollingFlowWorkflow, PollRunWorkflow
from workflows.realtime_flow import RealtimeFlowWorkflow

log = logging.getLogger("conflux.worker")
WORKFLOWS = [FlowRunWorkflow, PollingFlowWorkflow, PollRunWorkflow, RealtimeFlowWorkflow]


def build_worker(client: Client, settings: PlatformSettings, runner: StepRunner,
                 catalog: Mapping[str, ComponentInfo], pool: WarmPool | None = None) -> Worker:
    """The worker; ``pool`` holds the warm containers of the real-time flows it runs (the caller
    closes it after the worker stopped)."""
    steps = StepActivities(runner, catalog)
    realtime = RealtimeActivities(pool or WarmPool(runner), catalog)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[steps.run_step, steps.run_step_batch,
                    realtime.warm_up, realtime.batch, realtime.poll, realtime.retire],
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        workflow_failure_exception_types=[NondeterminismError],
    )


async def serve(settings: PlatformSettings) -> None:
    runner = make_runner(settings.runner)
    removed = await runner.remove_leftovers()
    if removed:
        log.info("removed %d step container(s) left over by an earlier worker", removed)
    catalog = load_catalog(settings.component_dirs)
    client = await connect(settings)
    pool = WarmPool(runner)
    worker = build_worker(client, settings, runner, catalog, pool)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker on %s, namespace %s, task queue %s, runner %s, %d components",
             settings.temporal_address, settings.namespace, settings.task_queue, runner.kind, len(catalog))
    async with worker:
        await stop.wait()
        log.info("stopping: letting running steps finish (up to %gs)", settings.graceful_shutdown_seconds)
    await pool.close()
    log.info("worker stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(PlatformSettings()))


if __name__ == "__main__":
    main()
