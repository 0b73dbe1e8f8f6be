"""The FastAPI application: wiring only (routes live in their own modules)."""

from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig
from temporalio.client import Client

from api.auth import authorize
from api.errors import install_error_handlers
from api.metrics import install_intake_metrics
from api.routes import (
    codec,
    components,
    credentials,
    definitions,
    drafts,
    errors,
    executions,
    health,
    lifecycle,
    metrics,
    pollers,
    realtime,
    secrets,
    tokens,
    variables,
    webhooks,
)
from api.services import Services
from api.settings import ApiSettings
from api.store import FlowStore
from api.tracing import install_tracing
from catalog.components import load_catalog

# FastAPI's own OpenTelemetry layer asks the global providers whether it is on, on every request (≈ 7% of
# a webhook's time in the API): off, since api/tracing.py instruments the app when tracing is configured.
NO_NATIVE_TELEMETRY = TelemetryConfig(tracing=False, metrics=False, logs=False)
DESCRIPTION = ("Conflux: integration flows on Temporal. Define flows, send them messages by webhook or "
               "POST, and follow every run step by step. See docs/api.md.")


def create_app(settings: ApiSettings | None = None, client: Client | None = None) -> FastAPI:
    """The app with its store opened and the component catalog loaded once; ``client`` is the
    Temporal client to use (by default one is connected on first use from ``settings``)."""
    settings = settings or ApiSettings()
    app = FastAPI(title="Conflux API", version="0.1.0", description=DESCRIPTION, telemetry=NO_NATIVE_TELEMETRY)
    app.state.services = Services(settings, FlowStore(settings.db_path), load_catalog(settings.component_dirs), client)
    install_error_handlers(app)
    install_intake_metrics(app)
    install_tracing(app)
    app.include_router(webhooks.router)  # hot path first; webhooks have their own authentication (webhook_auth)
    guarded = (executions, definitions, drafts, variables, lifecycle, pollers, realtime, errors, secrets, tokens,
               metrics, credentials, components)
    for module in guarded:
        app.include_router(module.router, dependencies=[Depends(authorize)])  # api/auth.py: bearer tokens
    app.include_router(codec.router)  # its own check: api/routes/codec.py codec_access
    app.include_router(health.router)
    return app
