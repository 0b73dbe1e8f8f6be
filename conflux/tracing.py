"""Traces (OpenTelemetry) from a webhook through its workflow and activities to the container
request: off unless configured, with OpenTelemetry's own variables (docs/observability.md).

Off means no tracer provider, no Temporal interceptor, no web-framework middleware: nothing runs
per request or per activity. On, a process has one provider (``configure_tracing`` in its main,
or ``install`` in a test with an in-memory exporter); the Temporal client picks up the interceptor
when it connects (conflux/temporal.py), the API its middleware when the app is built.
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor

from conflux.trace_context import current_traceparent, links_to

TRACER_NAME = "conflux"
EXPORTERS = ("otlp", "console", "none")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
_provider: TracerProvider | None = None


def chosen_exporter(environment: dict[str, str] | None = None) -> str:
    """``OTEL_TRACES_EXPORTER`` when set, else ``otlp`` when an OTLP endpoint is, else ``none``:
    unlike OpenTelemetry's own default, nothing is sent anywhere unless asked for."""
    env = os.environ if environment is None else environment
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not chosen:
        return "otlp" if any(env.get(name) for name in ENDPOINT_VARIABLES) else "none"
    if chosen not in EXPORTERS:
        raise ValueError(f"OTEL_TRACES_EXPORTER={chosen!r}: Conflux exports traces with 'otlp' (HTTP/protobuf, "
                         "to OTEL_EXPORTER_OTLP_ENDPOINT), 'console' (stdout) or 'none'")
    return chosen


def require_http_protobuf(environment: dict[str, str] | None = None) -> None:
    """Conflux's OTLP exporter speaks HTTP/protobuf only: a collector's gRPC port would refuse it
    span batch by span batch, so a gRPC setting fails at start instead."""
    env = os.environ if environment is None else environment
    for name in PROTOCOL_VARIABLES:
        protocol = env.get(name, "").strip().lower()
        if protocol and protocol != "http/protobuf":
            raise ValueError(f"{name}={protocol!r}: Conflux exports OTLP over HTTP/protobuf only; set it to "
                             "'http/protobuf' (or unset it) and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's "
                             "HTTP port (4318 by default)")


def configure_tracing(service: str) -> TracerProvider | None:
    """A process's tracing from its environment (None: off). ``service`` names the process in the
    traces unless ``OTEL_SERVICE_NAME`` does."""
    chosen = chosen_exporter()
    if chosen == "none":
        return None
    exporter: SpanExporter
    if chosen == "otlp":
        require_http_protobuf()
        # imported only when used: it brings requests and protobuf along
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # endpoint, headers, timeout, compression: OTEL_EXPORTER_OTLP_*
    else:
        exporter = ConsoleSpanExporter()
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))  # flushed at exit (shutdown_on_exit)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # for libraries that trace with the global one
    install(provider)
    return provider


def install(provider: TracerProvider | None) -> None:
    """Make ``provider`` this process's (None: tracing off again, for tests). Clients connected
    and apps built afterwards trace with it."""
    global _provider
    _provider = provider


def installed() -> TracerProvider | None:
    return _provider


def tracer() -> trace.Tracer:
    return _provider.get_tracer(TRACER_NAME) if _provider is not None else trace.NoOpTracer()


def temporal_interceptors() -> list[TracingInterceptor]:
    """Temporal's interceptor (client, workflows, activities) when tracing is on, else none."""
    return [TracingInterceptor(tracer())] if _provider is not None else []


@contextmanager
def span(name: str, attributes: dict[str, str | int], *, context: Context | None = None,
         links: Sequence[trace.Link] = (), kind: trace.SpanKind = trace.SpanKind.CLIENT) -> Iterator[None]:
    """A span of Conflux's own (by default a call out: to a container) when tracing is on; nothing
    at all when it is off. ``context``: the parent, when not the span running here."""
    if _provider is None:
        yield
        return
    with tracer().start_as_current_span(name, context=context, attributes=attributes, links=links, kind=kind):
        yield


@contextmanager
def trace_of_its_own(name: str, attributes: dict[str, str | int]) -> Iterator[None]:
    """A new trace, linked to the one running here, for work that outlives the request: a
    long-lived workflow started in a request's trace would add every batch or poll to it, for the
    flow's whole life."""
    if _provider is None:
        yield
        return
    with span(name, attributes, context=Context(), links=links_to([current_traceparent()]),
              kind=trace.SpanKind.INTERNAL):
        yield
