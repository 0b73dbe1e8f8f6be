"""The Temporal codec server protocol under /codec: the Temporal UI and the ``temporal`` CLI send the
payloads they show (protobuf JSON ``{"payloads": [...]}``, data in base64) to ``/codec/decode`` and
get them back decrypted, so operators read messages that Temporal itself keeps encrypted.

The UI calls from its own origin (a browser), hence CORS for the configured origins only. The
``X-Namespace`` header the UI and CLI send is accepted; the keys are the platform's, whatever the
namespace.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import bearer, check_token
from api.errors import ApiError
from api.services import Services, ServicesDep
from conflux.keys import KeyRingError
from conflux.payload_codec import PayloadNotDecodable

router = APIRouter(prefix="/codec", tags=["codec"])
PAYLOADS_BODY = {"requestBody": {"required": True, "description": 'Temporal Payloads as protobuf JSON: '
                                 '{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}',
                                 "content": {"application/json": {"schema": {"type": "object"}}}}}


async def codec_access(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
    """An API token, as every management route (decode: read, encode: write), for the POST routes
    only: a browser sends no credentials with a CORS preflight. ``CONFLUX_CODEC_AUTH=false`` opens
    them to whoever reaches the API: the dev server's Temporal UI sends no token, so the local stack
    (on loopback) does that (docs/security.md)."""
    if request.app.state.services.settings.codec_auth:
        check_token(request, credentials, "read" if request.url.path.endswith("/decode") else "write")


def cors_headers(request: Request, services: Services) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin.rstrip("/") not in services.settings.codec_cors_origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "content-type, x-namespace, authorization",
            "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "600"}


Coding = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


async def _apply(request: Request, services: Services, coding: Coding, what: str) -> Response:
    headers = cors_headers(request, services)
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as exc:  # a body that is not UTF-8 is no JSON either
        raise ApiError(400, f"POST /codec/{what} takes Temporal Payloads as protobuf JSON "
                            f'({{"payloads": [{{"metadata": {{...}}, "data": "<base64>"}}]}}): {exc}',
                       headers=headers) from None
    try:
        coded = await coding(payloads.payloads)
    except (KeyRingError, PayloadNotDecodable) as exc:
        raise ApiError(400, f"a payload does not {what}: {exc}", headers=headers) from None
    body = json_format.MessageToJson(Payloads(payloads=coded), indent=None)
    return Response(body, media_type="application/json", headers=headers)


@router.post("/encode", openapi_extra=PAYLOADS_BODY, dependencies=[Depends(codec_access)])
async def encode(request: Request, services: ServicesDep) -> Response:
    """Encrypt payloads as the platform does (e.g. for a signal sent from the UI)."""
    return await _apply(request, services, services.codec.encode, "encode")


@router.post("/decode", openapi_extra=PAYLOADS_BODY, dependencies=[Depends(codec_access)])
async def decode(request: Request, services: ServicesDep) -> Response:
    """Decrypt payloads under any key of the ring; payloads that are not encrypted come back as they are."""
    return await _apply(request, services, services.codec.decode, "decode")


@router.options("/encode", include_in_schema=False)
@router.options("/decode", include_in_schema=False)
async def preflight(request: Request, services: ServicesDep) -> Response:
    return Response(status_code=204, headers=cors_headers(request, services))

