"""Finding a stored flow for a route: the version asked for, or a 404 that says where to look (a
409 for a flow that has only a draft: it exists, but nothing of it may run until it is published)."""

import asyncio

from api.errors import ApiError
from api.services import Services
from api.store import StoredFlow


async def load_flow(services: Services, flow_id: str, version: int | None = None, *,
                    draft_only_status: int = 409) -> StoredFlow:
    """The latest (or the given) version; ApiError 404 when there is none, ``draft_only_status``
    when the flow has only a draft."""
    if version is None:
        stored = services.flows.latest(flow_id)
    else:
        stored = await asyncio.to_thread(services.store.get, flow_id, version)
    if stored is None and version is not None and services.flows.latest(flow_id) is not None:
        raise ApiError(404, f"flow '{flow_id}' has no version {version}; GET /flows/{flow_id}/versions lists them")
    if stored is None:
        raise missing_flow(services, flow_id, draft_only_status)
    return stored


def missing_flow(services: Services, flow_id: str, draft_only_status: int = 404) -> ApiError:
    """The error for a flow with no published version: unknown, or only a draft."""
    if services.flows.has_draft(flow_id):
        return ApiError(draft_only_status, f"flow '{flow_id}' has only a draft (GET /flows/{flow_id}/draft), no "
                                           f"published version, so nothing of it runs; publish the draft with "
                                           f"POST /flows/{flow_id}/publish")
    return unknown_flow(flow_id)


def unknown_flow(flow_id: str) -> ApiError:
    return ApiError(404, f"there is no flow '{flow_id}'; GET /flows lists the flows, POST /flows creates one")
