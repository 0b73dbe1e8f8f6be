"""The worker's own metrics (Prometheus, ``conflux_`` names; docs/observability.md lists them).

Their labels are bounded by what operators define, never by traffic: flow ids, step ids,
component names and images come from flow definitions; reasons from a fixed set of failure
kinds. Message ids and execution ids are never labels. Functions here are called from the
activities and the step runners, never from workflow code (which must stay free of I/O).
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
"""The worker's registry, served by worker/metrics.py (the SDK's own metrics have their own port)."""

# a step in a container takes from ~5 ms (warm) to minutes (a slow HTTP target)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)

STEP_SECONDS = Histogram(
    "conflux_step_duration_seconds", "one step's container call for a message or a batch, by outcome",
    ["flow", "step", "component", "outcome"], buckets=STEP_BUCKETS, registry=REGISTRY)
CONTAINER_STARTS = Counter(
    "conflux_container_starts", "step containers (or processes) started", ["image"], registry=REGISTRY)
CONTAINER_FAILURES = Counter(
    "conflux_container_failures", "step containers that failed: did not start, crashed, hung, broke the protocol",
    ["image", "reason"], registry=REGISTRY)
POLLS = Counter("conflux_polls", "polls of polling triggers, by outcome", ["flow", "outcome"], registry=REGISTRY)
POLL_RECORDS = Counter("conflux_poll_records", "records polling triggers emitted", ["flow"], registry=REGISTRY)
REALTIME_BATCH = Histogram(
    "conflux_realtime_batch_messages", "messages per batch of a real-time flow", ["flow"],
    buckets=BATCH_BUCKETS, registry=REGISTRY)

REALTIME_WAITING = Gauge(
    "conflux_realtime_waiting_messages", "accepted messages of a real-time flow not yet in a batch (its status)",
    ["flow"], registry=REGISTRY)
REALTIME_IN_FLIGHT = Gauge(
    "conflux_realtime_in_flight_messages", "messages of a real-time flow in batches being processed (its status)",
    ["flow"], registry=REGISTRY)
WARM_CONTAINERS = "conflux_realtime_warm_containers"  # collected from the pool at scrape time: worker/metrics.py


def step_finished(flow: str, step: str, component: str, seconds: float, ok: bool) -> None:
    STEP_SECONDS.labels(flow, step, component, "ok" if ok else "failed").observe(seconds)


def container_started(image: str) -> None:
    CONTAINER_STARTS.labels(image).inc()


def container_failed(image: str, reason: str) -> None:
    """``reason``: the failure's kind (a StepFailure subclass name, e.g. ContainerCrashed)."""
    CONTAINER_FAILURES.labels(image, reason).inc()


def polled(flow: str, records: int | None) -> None:
    """One poll: ``records`` it emitted, None when it failed."""
    POLLS.labels(flow, "failed" if records is None else "ok").inc()
    if records:
        POLL_RECORDS.labels(flow).inc(records)


def realtime_batch(flow: str, messages: int) -> None:
    REALTIME_BATCH.labels(flow).observe(messages)
