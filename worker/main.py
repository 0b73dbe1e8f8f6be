"""Start a worker: ``python -m worker``. SIGTERM/SIGINT drain it: running steps get
``graceful_shutdown_seconds`` to finish; what does not finish is retried by Temporal elsewhere."""

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.workflow import NondeterminismError

from activities.component_call import ComponentCallActivities
from activities.hand_to_window import hand_to_window
from activities.realtime import RealtimeActivities
from activities.run_step import StepActivities
from activities.start_runs import start_runs
from activities.step_credentials import StepCredentials
from catalog.components import ComponentInfo, load_catalog
from conflux.credential_store import CredentialStore
from conflux.keys import load_key_ring
from conflux.logs import configure_logging
from conflux.settings import PlatformSettings
from conflux.temporal import connect_patiently
from conflux.tracing import configure_tracing
from steps.pool import WarmPool
from steps.runner import StepRunner, make_runner
from worker.metrics import serving_metrics, temporal_runtime
from workflows.aggregate_window import AggregateWindowWorkflow
from workflows.component_call import ComponentCallWorkflow
from workflows.flow_run import FlowRunWorkflow
from workflows.intake import FlowIntakeWorkflow
from workflows.polling_flow import PollingFlowWorkflow, PollRunWorkflow
from workflows.realtime_flow import RealtimeFlowWorkflow

log = logging.getLogger("conflux.worker")
WORKFLOWS = [FlowRunWorkflow, FlowIntakeWorkflow, PollingFlowWorkflow, PollRunWorkflow, RealtimeFlowWorkflow,
             ComponentCallWorkflow, AggregateWindowWorkflow]


def build_worker(client: Client, settings: PlatformSettings, pool: WarmPool,
                 catalog: Mapping[str, ComponentInfo]) -> Worker:
    """The worker; ``pool`` holds the containers its steps run in (the caller closes it after
    the worker stopped: :func:`running_worker` does both). It reads the credentials from the
    platform's database (``settings.db_path``, the API's) with the same key ring as the API."""
    store = CredentialStore(settings.db_path, load_key_ring(settings.keys, settings.key_file))
    steps = StepActivities(pool, catalog, StepCredentials(store))
    realtime = RealtimeActivities(pool, catalog, StepCredentials(store))
    services = ComponentCallActivities(pool, catalog, store)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[steps.run_step, steps.run_step_batch, start_runs, hand_to_window,
                    realtime.warm_up, realtime.batch, realtime.poll, realtime.retire, services.component_call],
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        workflow_failure_exception_types=[NondeterminismError],
    )


def container_pool(settings: PlatformSettings, runner: StepRunner) -> WarmPool:
    return WarmPool(runner, standby=settings.standby_containers, standby_idle_seconds=settings.standby_idle_seconds)


@asynccontextmanager
async def running_worker(client: Client, settings: PlatformSettings, runner: StepRunner,
                         catalog: Mapping[str, ComponentInfo]) -> AsyncIterator[Worker]:
    """A running worker and its container pool; on exit the worker drains, then every container
    the pool holds (warm, standby, finishing) is removed. Metrics are served meanwhile when
    ``settings.metrics_address`` says where."""
    pool = container_pool(settings, runner)
    try:
        async with serving_metrics(settings, client, pool), build_worker(client, settings, pool, catalog) as worker:
            yield worker
    finally:
        await pool.close()


async def serve(settings: PlatformSettings) -> None:
    runner = make_runner(settings.runner)
    removed = await runner.remove_leftovers()
    if removed:
        log.info("removed %d step container(s) left over by an earlier worker", removed)
    catalog = load_catalog(settings.component_dirs)
    client = await connect_patiently(settings, temporal_runtime(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker on %s, namespace %s, task queue %s, runner %s, %d components, %d standby container(s) per "
             "step image", settings.temporal_address, settings.namespace, settings.task_queue, runner.kind,
             len(catalog), settings.standby_containers)
    async with running_worker(client, settings, runner, catalog):
        await stop.wait()
        log.info("stopping: letting running steps finish (up to %gs)", settings.graceful_shutdown_seconds)
    log.info("worker stopped")


def main() -> None:
    settings = PlatformSettings()
    configure_logging(settings.log_format)
    configure_tracing("conflux-worker")  # before the client connects: it takes the interceptor then
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
