"""Who may call the management API: every route but /healthz, the webhooks and the interactive docs
needs a bearer token (api/tokens.py) whose scopes cover the route: ``read`` for GET, ``write`` for
the rest, ``admin`` for tokens, secrets and credentials. 401 names what is missing, 403 what the token lacks.

The dependency guards every router but the webhooks', the codec's and /healthz (api/app.py), so the
webhooks' hot path pays nothing; the codec endpoint calls ``check_token`` itself, with its own
scopes and its own switch (CONFLUX_CODEC_AUTH). tests/test_api_auth.py checks that every other
route asks for a token. The
token's lookup goes through the flow cache: no database read per request while no token changed.
"""

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.tokens import Scope

ADMIN_PREFIXES = ("/tokens", "/secrets", "/credentials")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOW_TO_GET_ONE = ("create one with `python -m api.tokens create --name me --scopes read,write` (the local stack "
                  "printed one at start)")

bearer = HTTPBearer(auto_error=False, description="an API token: `python -m api.tokens create`, or POST /tokens")


def needed_scope(method: str, path: str) -> Scope:
    if path.startswith(ADMIN_PREFIXES):
        return "admin"
    return "read" if method in READ_METHODS else "write"


async def authorize(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
    """The routers' dependency: the scope from the path and method."""
    check_token(request, credentials, needed_scope(request.method, request.url.path))


def check_token(request: Request, credentials: HTTPAuthorizationCredentials | None, needed: Scope) -> None:
    """401 or 403 unless the request carries a live token with ``needed`` (nothing when auth is off)."""
    services = request.app.state.services
    if not services.settings.api_auth:
        return
    where = f"{request.method} {request.url.path}"
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ApiError(401, f"{where} needs an API token (Authorization: Bearer <token>) with the '{needed}' "
                            f"scope; {HOW_TO_GET_ONE}", headers=challenge)
    token = services.flows.token(credentials.credentials)
    if token is None:
        raise ApiError(401, f"{where}: the bearer token is not one this API issued; {HOW_TO_GET_ONE}",
                       headers=challenge)
    if token.revoked_at is not None:
        raise ApiError(401, f"{where}: token '{token.name}' ({token.id}) was revoked at {token.revoked_at}; "
                            f"{HOW_TO_GET_ONE}", headers=challenge)
    if not token.allows(needed):
        raise ApiError(403, f"{where} needs the '{needed}' scope; token '{token.name}' ({token.id}) has "
                            f"{', '.join(token.scopes)}: use a token with '{needed}' (an admin creates one with "
                            "POST /tokens)")
