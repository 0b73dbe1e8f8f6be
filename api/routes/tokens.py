"""API tokens (admin scope): create one (its secret shown once), list them, revoke one."""

import asyncio

from fastapi import APIRouter
from pydantic import Field

from api.errors import ApiError
from api.responses import CamelModel
from api.services import ServicesDep
from api.tokens import Scope, TokenInfo

router = APIRouter(tags=["tokens"])


class NewToken(CamelModel):
    name: str = Field(min_length=1, max_length=100, description="who or what uses it")
    scopes: list[Scope] = Field(min_length=1, description="read, write, admin (each includes the ones before)")


class TokenView(CamelModel):
    id: str
    name: str
    scopes: list[Scope]
    created_at: str
    revoked_at: str | None = None


class TokenCreated(TokenView):
    token: str = Field(description="the bearer token: shown this once, only its hash is kept")


class TokenList(CamelModel):
    tokens: list[TokenView]


@router.post("/tokens", status_code=201, response_model=TokenCreated)
async def create_token(body: NewToken, services: ServicesDep) -> TokenCreated:
    info, token = await asyncio.to_thread(services.tokens.create, body.name, body.scopes)
    return TokenCreated(**_view(info).model_dump(), token=token)


@router.get("/tokens", response_model=TokenList)
async def list_tokens(services: ServicesDep) -> TokenList:
    return TokenList(tokens=[_view(info) for info in await asyncio.to_thread(services.tokens.list)])


@router.delete("/tokens/{token_id}", response_model=TokenView)
async def revoke_token(token_id: str, services: ServicesDep) -> TokenView:
    """Refused from the next request on, by every API process."""
    info = await asyncio.to_thread(services.tokens.revoke, token_id)
    if info is None:
        raise ApiError(404, f"there is no token '{token_id}'; GET /tokens lists them")
    return _view(info)


def _view(info: TokenInfo) -> TokenView:
    return TokenView(id=info.id, name=info.name, scopes=list(info.scopes), created_at=info.created_at,
                     revoked_at=info.revoked_at)
