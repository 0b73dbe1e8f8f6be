"""Traces: a webhook's HTTP request, the workflow it starts, the step's activity and the container
request are one trace, recorded by an in-memory exporter; the component gets the trace in its
request, and its log line reaches the worker's JSON log with the trace's id. A message that waited
in an ordinary flow's intake, or went to a real-time flow in a batched signal, keeps its request's
trace. The API and a worker run in this process (tests/api_harness.py), with the test's tracer
provider installed."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id

from api.settings import ApiSettings
from conflux import tracing
from conflux.logs import JsonFormatter
from deploy.processes import stop_process
from tests.api_harness import api_client, api_settings, api_with_worker
from tests.conftest import PROBE_DIR
from tests.flow_helpers import start_worker_process
from tests.loopback import LoopbackServer
from tests.test_realtime import until_running
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

ORDINARY: dict[str, Any] = {
    "id": "traced", "name": "Traced",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "look", "component": "probe", "function": "traced"}],
}

REALTIME: dict[str, Any] = {**ORDINARY, "id": "rt-traced", "name": "Real-time traced", "type": "realtime"}


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
        for flow in (ORDINARY, REALTIME):
            assert (await http.put(f"/flows/{flow['id']}", json=flow)).status_code == 201
        yield http


def named(spans: InMemorySpanExporter, trace_id: int) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans.get_finished_spans() if span.context.trace_id == trace_id}


def path_of(span: ReadableSpan) -> object:
    """An HTTP request span's path (the instrumentation names it by the old or the new convention)."""
    attributes = span.attributes or {}
    return attributes.get("url.path") or attributes.get("http.target")


def workflow_start(spans: InMemorySpanExporter, workflow_id: str) -> ReadableSpan | None:
    return next((span for span in spans.get_finished_spans() if span.name == "StartWorkflow:FlowRun"
                 and (span.attributes or {}).get("temporalWorkflowID") == workflow_id), None)


async def test_a_webhook_to_its_container_request_is_one_trace(api: httpx.AsyncClient, spans: InMemorySpanExporter,
                                                             step_log: JsonLines) -> None:
    answer = await api.post("/hooks/traced", json={"n": 1}, headers={"Idempotency-Key": "t-1"})
    assert answer.status_code == 202, answer.text
    status = await finished(api, answer.json()["executionId"])
    assert status["status"] == "COMPLETED", status

    started = await until(lambda: workflow_start(spans, "traced:t-1"), "the API's start of the run")
    expected = {"POST /hooks/{flow_id}", "RunWorkflow:FlowRun", "StartActivity:run_step", "RunActivity:run_step",
                "container probe/traced"}
    chain = await until(lambda: (found := named(spans, started.context.trace_id)) and expected <= found.keys()
                        and found, f"the spans {sorted(expected)} in the request's trace")
    request, container, activity = chain["POST /hooks/{flow_id}"], chain["container probe/traced"], \
        chain["RunActivity:run_step"]
    assert path_of(request) == "/hooks/traced" and request.kind.name == "SERVER"
    assert started.parent is not None and started.parent.span_id == request.context.span_id
    assert container.parent is not None and container.parent.span_id == activity.context.span_id

    trace_id, span_id = format_trace_id(container.context.trace_id), format_span_id(container.context.span_id)
    [output] = status["result"]["outputs"]
    assert output["traceparent"].startswith(f"00-{trace_id}-{span_id}-"), "the component got the request's trace"
    [line] = [line for line in step_log.lines
              if "traced probe at work" in line["message"] and line.get("message_id") == "t-1"]
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id), "the component's log line, in the trace"


async def test_a_message_that_waited_in_the_intake_keeps_its_requests_trace(
        settings: ApiSettings, api: httpx.AsyncClient, spans: InMemorySpanExporter) -> None:
    flooded = settings.model_copy(update={"direct_starts": 0})  # every message through the flow's intake
    async with api_client(flooded) as intake_api:
        answer = await intake_api.post("/hooks/traced", json={"n": 2}, headers={"Idempotency-Key": "t-2"})
        assert answer.status_code == 202, answer.text
        status = await finished(intake_api, answer.json()["executionId"])
    assert status["status"] == "COMPLETED", status

    def start_of_run() -> ReadableSpan | None:
        return next((span for span in spans.get_finished_spans() if span.name == "start run of t-2"), None)

    started = await until(start_of_run, "the intake's start of the run")
    expected = {"POST /hooks/{flow_id}", "StartWorkflow:FlowRun", "RunWorkflow:FlowRun", "RunActivity:run_step",
                "container probe/traced"}
    await until(lambda: expected <= named(spans, started.context.trace_id).keys(),
                f"the spans {sorted(expected)} in the request's trace")
    [handed_over] = [span for span in spans.get_finished_spans() if span.name == "start intake"]
    assert handed_over.context.trace_id != started.context.trace_id, "the long-lived intake has a trace of its own"
    assert [link.context.trace_id for link in handed_over.links] == [started.context.trace_id], \
        "linked to the request that handed the message over"
    assert "SignalWithStartWorkflow:FlowIntake" in named(spans, handed_over.context.trace_id)
    start_runs = {span.context.span_id for span in spans.get_finished_spans() if span.name == "RunActivity:start_runs"}
    assert [link.context.span_id for link in started.links if link.context.span_id in start_runs], \
        "the start links to the intake's activity"
    [output] = status["result"]["outputs"]
    assert output["traceparent"].split("-")[1] == format_trace_id(started.context.trace_id)


async def test_real_time_messages_in_batched_signals_keep_their_own_traces(
        api: httpx.AsyncClient, spans: InMemorySpanExporter, step_log: JsonLines) -> None:
    assert (await api.post("/flows/rt-traced/start")).status_code == 200
    await until_running(api, "rt-traced")
    try:
        answers = await asyncio.gather(*(api.post("/hooks/rt-traced", json={"rt": n}) for n in range(3)))
        assert all(answer.status_code == 202 for answer in answers), [answer.text for answer in answers]

        def worked() -> list[dict[str, Any]]:
            lines = [line for line in step_log.lines if "traced probe at work on {'body': {'rt'" in line["message"]]
            return lines if len(lines) == 3 else []

        lines = await until(worked, "the component's log line for each message")
        requests = {(span.context.trace_id, span.context.span_id): span for span in spans.get_finished_spans()
                    if span.kind.name == "SERVER"}
        containers = [span for span in spans.get_finished_spans() if span.name == "container probe/traced"
                      and (span.attributes or {})["conflux.flow"] == "rt-traced"]
        linked = {(link.context.trace_id, link.context.span_id) for span in containers for link in span.links}

        def in_batches() -> bool:
            batches = {span.context.span_id for span in spans.get_finished_spans()
                       if span.name == "RunActivity:realtime_batch"}
            return all(span.parent is not None and span.parent.span_id in batches for span in containers)

        await until(in_batches, "each container request's span to be its batch activity's child")
        for line in lines:
            ids = (int(line["trace_id"], 16), int(line["span_id"], 16))
            assert ids in requests, f"{line} names no HTTP request's span"
            assert ids in linked, "the container request links to each message's request"
        assert len({line["trace_id"] for line in lines}) == 3, "each message in its own request's trace"
    finally:
        assert (await api.post("/flows/rt-traced/stop")).status_code == 200


def exported_spans(collector: LoopbackServer) -> list[Any]:
    """The spans a process exported to the loopback collector over OTLP (HTTP/protobuf)."""
    found = []
    for _, path, body in list(collector.received):
        if path == "/v1/traces" and isinstance(body, bytes):
            request = ExportTraceServiceRequest.FromString(body)
            found += [span for resource in request.resource_spans for scope in resource.scope_spans
                      for span in scope.spans]
    return found


async def test_a_worker_process_exports_over_otlp_into_the_api_requests_trace(
        temporal_address: str, tmp_path: Path, spans: InMemorySpanExporter) -> None:
    settings = api_settings(temporal_address, tmp_path, "otlp", component_dirs=[PROBE_DIR])
    log_path = tmp_path / "worker.log"
    with LoopbackServer({"/v1/traces": lambda *_: (200, {})}) as collector:
        process = start_worker_process(settings, settings.task_queue, log_path, {
            "CONFLUX_RUNNER": "process", "CONFLUX_LOG_FORMAT": "json", "CONFLUX_STANDBY_CONTAINERS": "0",
            "CONFLUX_COMPONENT_DIRS": json.dumps([str(PROBE_DIR)]),
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"})
        try:
            async with api_client(settings) as api:
                assert (await api.put("/flows/traced", json=ORDINARY)).status_code == 201
                answer = await api.post("/hooks/traced", json={"n": 4}, headers={"Idempotency-Key": "t-4"})
                assert answer.status_code == 202, answer.text
                assert (await finished(api, answer.json()["executionId"]))["status"] == "COMPLETED"
            request = await until(lambda: workflow_start(spans, "traced:t-4"), "the API's start of the run")
            trace_id = request.context.trace_id.to_bytes(16, "big")

            def the_workers() -> set[str]:
                names = {span.name for span in exported_spans(collector) if span.trace_id == trace_id}
                return names if {"RunWorkflow:FlowRun", "RunActivity:run_step", "container probe/traced"} <= names \
                    else set()

            await until(the_workers, "the worker's spans, exported into the API request's trace")
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            [line] = [line for line in lines if "traced probe at work" in line["message"]]
            assert line["trace_id"] == trace_id.hex() and line["message_id"] == "t-4"
        finally:
            stop_process(process)
