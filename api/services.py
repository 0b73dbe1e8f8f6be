"""What the routes share: settings, the flow store, the component catalog and the Temporal client.

The client connects on first use, so the API starts (and /healthz can say why) while Temporal
is still down.
"""

import asyncio
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from api.direct_starts import DirectStarts
from api.error_retries import RetryLog
from api.errors import TemporalUnavailable
from api.flow_cache import FlowCache
from api.flow_states import FlowStates
from api.in_flight import InFlight
from api.message_ids import AcceptedIds
from api.rate_limits import RateLimits
from api.secret_store import SecretStore
from api.settings import ApiSettings
from api.signal_bridge import SignalBridge
from api.store import FlowStore
from api.tokens import TokenStore
from api.workflow_signals import WorkflowSignals
from catalog.components import ComponentInfo
from conflux.credential_store import CredentialStore
from conflux.temporal import connect, encryption_codec


class Services:
    def __init__(self, settings: ApiSettings, store: FlowStore, catalog: Mapping[str, ComponentInfo],
                 client: Client | None = None) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self._client = client
        self.codec = encryption_codec(settings)  # one key ring: /codec, secrets, credentials, the Temporal client
        self._connecting = asyncio.Lock()
        self.flow_states = FlowStates(settings.db_path)
        self.secrets = SecretStore(settings.db_path, self.codec.ring)
        self.credentials = CredentialStore(settings.db_path, self.codec.ring)
        self.tokens = TokenStore(settings.db_path)
        self.flows = FlowCache(store, self.flow_states, self.secrets, self.tokens)
        self.signals = WorkflowSignals(self.client, settings)
        accepted = AcceptedIds(settings.db_path)
        self.bridge = SignalBridge(self.signals.realtime, accepted, gather_seconds=settings.realtime_gather_ms / 1000,
                                   max_batch=settings.realtime_max_batch)
        self.intake = SignalBridge(self.signals.intake, accepted, gather_seconds=settings.realtime_gather_ms / 1000,
                                   max_batch=settings.realtime_max_batch)
        self.rate_limits = RateLimits(settings.db_path)
        self.direct_starts = DirectStarts(settings.direct_starts)
        self.in_flight = InFlight(self.client)
        self.retry_log = RetryLog(settings.db_path)

    async def client(self) -> Client:
        """The Temporal client; ApiError 503 when Temporal cannot be reached."""
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    try:
                        self._client = await connect(self.settings, codec=self.codec)
                    except Exception as exc:  # the SDK raises RuntimeError with the transport's reason
                        raise TemporalUnavailable(self.settings.temporal_address, str(exc)) from None
        return self._client


async def get_services(request: Request) -> Services:
    """FastAPI dependency: the app's Services (async: a sync dependency would cost a thread hop per request)."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
"""What a route declares to get the app's Services: ``services: ServicesDep``."""
