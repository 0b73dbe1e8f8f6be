"""The API as the integration tests run it: settings of their own (a task queue, a database and a
blob folder per module), the app in-process over ASGI, and a worker on the same Temporal client."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
from temporalio.client import Client

from api.app import create_app
from api.settings import ApiSettings
from catalog.components import ComponentInfo, load_catalog
from conflux.temporal import connect
from steps.runner import make_runner
from worker.main import running_worker


def api_settings(temporal_address: str, folder: Path, queue: str, **extra: Any) -> ApiSettings:
    """``queue`` names the module's task queue (made unique); ``extra`` are more ApiSettings fields."""
    return ApiSettings(temporal_address=temporal_address, task_queue=f"{queue}-{uuid.uuid4().hex[:8]}",
                       db_path=folder / "conflux.db", blob_dir=folder / "blobs", **extra)


@contextlib.asynccontextmanager
async def api_client(settings: ApiSettings, client: Client | None = None, *, base_url: str = "http://conflux",
                     timeout: float = 5.0) -> AsyncIterator[httpx.AsyncClient]:
    """An API process's app (its own Services over the settings' database), talked to over ASGI."""
    app = create_app(settings, client=client or await connect(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url,
                                 timeout=timeout) as http:
        yield http


@contextlib.asynccontextmanager
async def api_with_worker(settings: ApiSettings, catalog: Mapping[str, ComponentInfo] | None = None, *,
                          runner: Literal["docker", "process"] = "process",
                          timeout: float = 5.0) -> AsyncIterator[httpx.AsyncClient]:
    """The app and a worker on the settings' task queue, sharing one client."""
    client = await connect(settings)
    async with running_worker(client, settings, make_runner(runner), catalog or load_catalog()):
        async with api_client(settings, client, timeout=timeout) as http:
            yield http
