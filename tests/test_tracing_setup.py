"""Tracing's setup without a server: off unless OpenTelemetry's variables ask for it, and then an
exporter, a Temporal interceptor and ids in the JSON log lines; nothing of it while off."""

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from temporalio.contrib.opentelemetry import TracingInterceptor

from conflux import tracing
from conflux.logs import JsonFormatter
from conflux.trace_context import context_of, current_traceparent, links_to, trace_fields


@pytest.fixture
def installed() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    tracing.install(provider)
    try:
        yield provider
    finally:
        tracing.install(None)
        provider.shutdown()


@pytest.mark.parametrize(("environment", "chosen"), [
    ({}, "none"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "none"),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, "none"),
])
def test_traces_are_exported_only_when_asked_for(environment: dict[str, str], chosen: str) -> None:
    assert tracing.chosen_exporter(environment) == chosen


def test_an_exporter_conflux_does_not_know_is_refused_with_the_ones_it_does() -> None:
    with pytest.raises(ValueError, match="'otlp'.*'console'.*'none'"):
        tracing.chosen_exporter({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_a_grpc_protocol_is_refused_at_start_with_the_way_out() -> None:
    tracing.require_http_protobuf({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    with pytest.raises(ValueError, match="HTTP/protobuf only.*4318"):
        tracing.require_http_protobuf({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"})


def test_off_by_default_nothing_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure_tracing("conflux-test") is None
    assert tracing.installed() is None and tracing.temporal_interceptors() == []
    with tracing.span("container x/y", {}):
        assert current_traceparent() is None and trace_fields() == {}


def test_on_the_interceptor_and_the_span_ids_in_log_lines(installed: TracerProvider) -> None:
    [interceptor] = tracing.temporal_interceptors()
    assert isinstance(interceptor, TracingInterceptor)
    record = logging.LogRecord("conflux.test", logging.INFO, __file__, 1, "inside", None, None)
    with tracing.span("container x/y", {"conflux.step": "y"}):
        traceparent = current_traceparent()
        line = json.loads(JsonFormatter().format(record))
    assert traceparent is not None and traceparent.split("-")[1:3] == [line["trace_id"], line["span_id"]]
    assert "trace_id" not in json.loads(JsonFormatter().format(record)), "no span running: no ids"


def test_a_traceparent_names_a_context_to_continue_and_to_link(installed: TracerProvider) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracing.span("start run", {}, context=context_of(traceparent)):
        assert trace_fields()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context_of("garbage") is None and context_of(None) is None
    [link] = links_to([traceparent, traceparent, None, "garbage"])
    assert link.context.span_id == 0x00f067aa0ba902b7
