"""Secrets flows refer to by name (a webhook's password, API key or signing key): stored encrypted,
never answered back (api/secret_store.py)."""

import asyncio
import re

from fastapi import APIRouter, Response
from pydantic import Field

from api.errors import ApiError
from api.flow_usage import flows_naming
from api.responses import CamelModel, Reencrypted
from api.secret_store import SecretInfo
from api.services import Services, ServicesDep
from flows.model import ID_PATTERN, ID_RULE, Flow

router = APIRouter(tags=["secrets"])


class SecretValue(CamelModel):
    value: str = Field(min_length=1, max_length=4096, description="the secret; never returned")


class SecretSummary(CamelModel):
    name: str
    key_id: str = Field(description="the encryption key it is sealed with (conflux/keys.py)")
    updated_at: str
    used_by: list[str] = Field(default_factory=list, description="flows whose active version or draft names it")


class SecretList(CamelModel):
    secrets: list[SecretSummary]


@router.put("/secrets/{name}", response_model=SecretSummary, responses={201: {"description": "created"}})
async def put_secret(name: str, body: SecretValue, response: Response, services: ServicesDep) -> SecretSummary:
    _check_name(name)
    info, created = await asyncio.to_thread(services.secrets.put, name, body.value)
    if created:
        response.status_code = 201
    return _summary(info, await _users(services, name))


@router.get("/secrets", response_model=SecretList)
async def list_secrets(services: ServicesDep) -> SecretList:
    infos = await asyncio.to_thread(services.secrets.list)
    users = await _users_by_secret(services)
    return SecretList(secrets=[_summary(info, users.get(info.name, [])) for info in infos])


@router.delete("/secrets/{name}", status_code=204, responses={409: {"description": "a flow uses it"}})
async def delete_secret(name: str, services: ServicesDep) -> Response:
    users = await _users(services, name)
    if users:
        raise ApiError(409, f"secret '{name}' is used by flow(s) {', '.join(users)}; publish them without it first")
    if not await asyncio.to_thread(services.secrets.delete, name):
        raise ApiError(404, f"there is no secret '{name}'; GET /secrets lists them")
    return Response(status_code=204)


@router.post("/secrets/reencrypt", response_model=Reencrypted)
async def reencrypt_secrets(services: ServicesDep) -> Reencrypted:
    """After a new key was put first in the key ring: seal every secret under it, so the old key can go."""
    moved = await asyncio.to_thread(services.secrets.reencrypt)
    return Reencrypted(reencrypted=moved, key_id=services.secrets.keys.active_id)


async def _users(services: Services, name: str) -> list[str]:
    return (await _users_by_secret(services)).get(name, [])


async def _users_by_secret(services: Services) -> dict[str, list[str]]:
    return await flows_naming(services, _secret_of)


def _secret_of(flow: Flow) -> list[str]:
    auth = flow.webhook_auth
    return [auth.secret] if auth is not None and auth.secret is not None else []


def _check_name(name: str) -> None:
    if not re.match(ID_PATTERN, name):
        raise ApiError(400, f"'{name[:80]}' is not a secret name: use {ID_RULE}")


def _summary(info: SecretInfo, used_by: list[str]) -> SecretSummary:
    return SecretSummary(name=info.name, key_id=info.key_id, updated_at=info.updated_at, used_by=used_by)
