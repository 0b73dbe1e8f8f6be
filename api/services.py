"""What the routes share: settings, the flow store, the component catalog and the Temporal client.

The client connects on first use, so the API starts (and /healthz can say why) while Temporal
is still down.
"""

import asyncio
import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from api.errors import TemporalUnavailable
from api.flow_cache import FlowCache
from api.flow_states import FlowStates
from api.message_ids import AcceptedIds
from api.rate_limits import RateLimits
from api.settings import ApiSettings
from api.signal_bridge import SignalBridge
from api.store import FlowStore
from api.workflow_signals import WorkflowSignals
from catalog.components import ComponentInfo
from conflux.temporal import connect
from flows.model import Flow
from workflows.realtime_models import RealtimeInput

FLOOD_SECONDS = 1.0


class Services:
    def __init__(self, settings: ApiSettings, store: FlowStore, catalog: Mapping[str, ComponentInfo],
                 client: Client | None = None) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self._client = client
        self._connecting = asyncio.Lock()
        self.flow_states = FlowStates(settings.db_path)
        self.flows = FlowCache(store, self.flow_states)
        self.signals = WorkflowSignals(self.client, settings)
        accepted = AcceptedIds(settings.db_path)
        self.bridge = SignalBridge(self.signals.realtime, accepted, gather_seconds=settings.realtime_gather_ms / 1000,
                                   max_batch=settings.realtime_max_batch)
        self.intake = SignalBridge(self.signals.intake, accepted, gather_seconds=settings.realtime_gather_ms / 1000,
                                   max_batch=settings.realtime_max_batch)
        self.rate_limits = RateLimits(settings.db_path)
        self.starts_in_flight = 0  # ordinary runs this process is starting itself right now
        self._flooded_until: dict[str, float] = {}

    def realtime_input(self, flow: Flow) -> RealtimeInput:
        return self.signals.realtime_input(flow)

    def flooded(self, flow_id: str) -> bool:
        """Whether the flow's messages went to its intake within the last FLOOD_SECONDS: they keep
        going there (a start of its own would only queue at Temporal behind the intake's)."""
        return time.monotonic() < self._flooded_until.get(flow_id, 0.0)

    def mark_flooded(self, flow_id: str) -> None:
        self._flooded_until[flow_id] = time.monotonic() + FLOOD_SECONDS

    async def client(self) -> Client:
        """The Temporal client; ApiError 503 when Temporal cannot be reached."""
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    try:
                        self._client = await connect(self.settings)
                    except Exception as exc:  # the SDK raises RuntimeError with the transport's reason
                        raise TemporalUnavailable(self.settings.temporal_address, str(exc)) from None
        return self._client


async def get_services(request: Request) -> Services:
    """FastAPI dependency: the app's Services (async: a sync dependency would cost a thread hop per request)."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
"""What a route declares to get the app's Services: ``services: ServicesDep``."""
