"""A trace's ids as they travel outside OpenTelemetry's own context: the W3C ``traceparent`` a
message carries through a batched signal and a container request carries to the component, and
the ids a JSON log line shows. OpenTelemetry's API only (no SDK): cheap to import, and a no-op
while tracing is off (conflux/tracing.py)."""

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span running here, None outside one (or with tracing off)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> Context | None:
    """The context a ``traceparent`` names, to start a span in it (None: not a valid one)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def links_to(traceparents: Sequence[str | None]) -> list[trace.Link]:
    """Links from a span to the traces of the messages it serves together (a batch)."""
    links = []
    for traceparent in dict.fromkeys(traceparents):
        context = context_of(traceparent)
        if context is not None:
            links.append(trace.Link(trace.get_current_span(context).get_span_context()))
    return links


def trace_fields() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the span running here, in hex as exporters show them; empty
    outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": trace.format_trace_id(context.trace_id), "span_id": trace.format_span_id(context.span_id)}
