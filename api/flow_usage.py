"""Which flows name a stored thing (a secret, a credential): what may not be deleted while they do.
Both the active version and the draft count: a draft naming a deleted one could not be published."""

import asyncio
from collections.abc import Callable, Iterable

from api.services import Services
from flows.model import Flow


async def flows_naming(services: Services, names: Callable[[Flow], Iterable[str]]) -> dict[str, list[str]]:
    """Name -> the ids of the flows whose active version or draft names it (``names`` reads a flow)."""
    active, drafts = await asyncio.gather(asyncio.to_thread(services.store.list_latest),
                                          asyncio.to_thread(services.store.list_drafts))
    users: dict[str, list[str]] = {}
    for flow in [stored.flow for stored in active] + [draft.flow for draft in drafts]:
        for name in names(flow):
            if flow.id not in users.setdefault(name, []):
                users[name].append(flow.id)
    return users
