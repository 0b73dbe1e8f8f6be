"""Finding a stored flow for a route: the version asked for, or a 404 that says where to look."""

import asyncio

from api.errors import ApiError
from api.services import Services
from api.store import StoredFlow


async def load_flow(services: Services, flow_id: str, version: int | None = None) -> StoredFlow:
    """The latest (or the given) version; ApiError 404 when there is none."""
    if version is None:
        stored = services.flows.latest(flow_id)
    else:
        stored = await asyncio.to_thread(services.store.get, flow_id, version)
    if stored is None and version is not None and services.flows.latest(flow_id) is not None:
        raise ApiError(404, f"flow '{flow_id}' has no version {version}; GET /flows/{flow_id}/versions lists them")
    if stored is None:
        raise unknown_flow(flow_id)
    return stored


def unknown_flow(flow_id: str) -> ApiError:
    return ApiError(404, f"there is no flow '{flow_id}'; GET /flows lists the flows, POST /flows creates one")
