"""Traces: a webhook's HTTP request, the workflow it starts, the step's activity and the container
request are one trace, recorded by an in-memory exporter; the component gets the trace in its
request, and its log line reaches the worker's JSON log with the trace's id. The API and a worker
run in this process (tests/api_harness.py), with the test's tracer provider installed."""

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id

from api.settings import ApiSettings
from conflux import tracing
from conflux.logs import JsonFormatter
from tests.api_harness import api_settings, api_with_worker
from tests.conftest import PROBE_DIR
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

ORDINARY: dict[str, Any] = {
    "id": "traced", "name": "Traced",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "look", "component": "probe", "function": "traced"}],
}


class JsonLines(logging.Handler):
    """The worker's log lines as its JSON formatter writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


@pytest.fixture(scope="module")
def step_log() -> Iterator[JsonLines]:
    handler = JsonLines()
    logger = logging.getLogger("conflux.step")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("tracing"), "tracing",
                        component_dirs=[PROBE_DIR], standby_containers=0)


@pytest.fixture(scope="module")
async def api(settings: ApiSettings, spans: InMemorySpanExporter, catalog_with_probe: dict,
              step_log: JsonLines) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(settings, catalog_with_probe) as http:
        assert (await http.put("/flows/traced", json=ORDINARY)).status_code == 201
        yield http


def named(spans: InMemorySpanExporter, trace_id: int) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans.get_finished_spans() if span.context.trace_id == trace_id}


def server_span(spans: InMemorySpanExporter, path: str) -> ReadableSpan | None:
    """The HTTP request's span (the instrumentation names the path by the old or the new convention)."""
    def path_of(span: ReadableSpan) -> object:
        attributes = span.attributes or {}
        return attributes.get("url.path") or attributes.get("http.target")

    return next((span for span in spans.get_finished_spans() if span.kind.name == "SERVER" and path_of(span) == path),
                None)


async def test_a_webhook_to_its_container_request_is_one_trace(api: httpx.AsyncClient, spans: InMemorySpanExporter,
                                                             step_log: JsonLines) -> None:
    answer = await api.post("/hooks/traced", json={"n": 1}, headers={"Idempotency-Key": "t-1"})
    assert answer.status_code == 202, answer.text
    status = await finished(api, answer.json()["executionId"])
    assert status["status"] == "COMPLETED", status

    request = await until(lambda: server_span(spans, "/hooks/traced"), "the HTTP request's span")
    expected = {"StartWorkflow:FlowRun", "RunWorkflow:FlowRun", "StartActivity:run_step", "RunActivity:run_step",
                "container probe/traced"}
    chain = await until(lambda: (found := named(spans, request.context.trace_id)) and expected <= found.keys()
                        and found, f"the spans {sorted(expected)} in the request's trace")
    container, activity = chain["container probe/traced"], chain["RunActivity:run_step"]
    assert container.parent is not None and container.parent.span_id == activity.context.span_id
    started = chain["StartWorkflow:FlowRun"]
    assert started.parent is not None and started.parent.span_id == request.context.span_id

    trace_id, span_id = format_trace_id(container.context.trace_id), format_span_id(container.context.span_id)
    [output] = status["result"]["outputs"]
    assert output["traceparent"].startswith(f"00-{trace_id}-{span_id}-"), "the component got the request's trace"
    [line] = [line for line in step_log.lines if "traced probe at work" in line["message"]]
    assert (line["trace_id"], line["span_id"], line["message_id"]) == (trace_id, span_id, "t-1")
