"""The API's part of a trace: a server span per HTTP request (OpenTelemetry's FastAPI
instrumentation), the parent of the Temporal calls the request makes. Nothing when tracing is off."""

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from conflux.tracing import installed

UNTRACED_PATHS = "/healthz$,/metrics$"  # scraped and probed every few seconds: noise, not traffic. Each a regex
# searched in the whole URL: anchored, so a flow named "shop-metrics" is still traced


def install_tracing(app: FastAPI) -> None:
    provider = installed()
    if provider is None:
        return
    # no spans of their own for the ASGI receive and send events: two more per request, saying nothing
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=UNTRACED_PATHS,
                                       exclude_spans=["receive", "send"])
