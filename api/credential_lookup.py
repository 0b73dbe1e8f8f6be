"""Finding a stored credential for a route, or the 404 that says where to look."""

import asyncio

from api.errors import ApiError
from api.services import Services
from conflux.credential_store import CredentialInfo


async def stored_credential(services: Services, credential_id: str) -> CredentialInfo:
    info = await asyncio.to_thread(services.credentials.info, credential_id)
    if info is None:
        raise missing_credential(credential_id)
    return info


def missing_credential(credential_id: str) -> ApiError:
    return ApiError(404, f"there is no credential '{credential_id}'; GET /credentials lists them")
