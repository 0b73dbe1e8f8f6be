"""Serving the worker's metrics: Conflux's own (conflux/metrics.py) with prometheus_client on
``CONFLUX_METRICS_ADDRESS``, the Temporal SDK's through its runtime's Prometheus exporter on
``CONFLUX_TEMPORAL_METRICS_ADDRESS``.

Two ports, not one: the SDK's exporter lives in its Rust core with its own HTTP server;
carrying its figures into our registry would mean draining a metric buffer and rebuilding its
histograms in Python. Prometheus scrapes two targets per worker at no cost to either.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from conflux.metrics import REALTIME_IN_FLIGHT, REALTIME_WAITING, REGISTRY, WARM_CONTAINERS
from conflux.settings import PlatformSettings
from steps.pool import WarmPool
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import realtime_workflow_id

log = logging.getLogger("conflux.metrics")
STATUS_TIMEOUT = timedelta(seconds=5)


def temporal_runtime(settings: PlatformSettings) -> Runtime | None:
    """A runtime exporting the SDK's metrics, or None for the SDK's default (no export). One per
    process: the worker's client is connected with it."""
    if settings.temporal_metrics_address is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.temporal_metrics_address)))


class WarmContainers(Collector):
    """Read from the pool at scrape time: the figure is the pool's, no bookkeeping to drift."""

    def __init__(self, pool: WarmPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(WARM_CONTAINERS, "started warm containers of a real-time flow in this worker",
                                   labels=["flow"])
        for flow_id, count in sorted(self.pool.warm_containers().items()):
            family.add_metric([flow_id], count)
        yield family


@contextlib.asynccontextmanager
async def serving_metrics(settings: PlatformSettings, client: Client, pool: WarmPool) -> AsyncIterator[None]:
    """While inside: /metrics on ``settings.metrics_address`` (nothing when it is unset)."""
    if settings.metrics_address is None:
        yield
        return
    host, port = split_address(settings.metrics_address)
    collector = WarmContainers(pool)
    REGISTRY.register(collector)
    server, thread = start_http_server(port, host, registry=REGISTRY)
    refreshing = asyncio.create_task(refresh_realtime_figures(client, pool, settings.metrics_refresh_seconds))
    log.info("metrics at http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        refreshing.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        REGISTRY.unregister(collector)


async def refresh_realtime_figures(client: Client, pool: WarmPool, every: float) -> None:
    """Messages waiting and in flight per real-time flow this worker holds warm containers for,
    from the flow workflow's status query (one small query per flow and period; the workflow
    itself does no metrics I/O)."""
    shown: set[str] = set()
    while True:
        held = set(pool.warm_containers())
        for flow_id in shown - held:
            REALTIME_WAITING.remove(flow_id)
            REALTIME_IN_FLIGHT.remove(flow_id)
        shown &= held
        for flow_id in sorted(held):
            if await _read_status(client, flow_id):
                shown.add(flow_id)
        await asyncio.sleep(every)


async def _read_status(client: Client, flow_id: str) -> bool:
    try:
        status = await client.get_workflow_handle(realtime_workflow_id(flow_id)).query(
            RealtimeFlowWorkflow.status, rpc_timeout=STATUS_TIMEOUT)
    except Exception as failure:  # a flow stopping or Temporal away: the figure waits for the next period
        log.debug("no status of real-time flow '%s' for the metrics: %s", flow_id, failure)
        return False
    REALTIME_WAITING.labels(flow_id).set(status.waiting)
    REALTIME_IN_FLIGHT.labels(flow_id).set(status.in_flight)
    return True


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``:9464``: every interface)."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"metrics address {address!r}: expected host:port, e.g. 127.0.0.1:9464")
    return host or "0.0.0.0", int(port)
