"""Checking who calls a webhook flow: HTTP basic, an API key (header or query parameter), or an HMAC
signature of the body, against a secret kept encrypted (api/secret_store.py).

401 when the request carries no credentials of the kind asked for, 403 when it carries wrong ones
(or a signature too old or too new: a replay); either way nothing starts and the answer never
echoes a secret. Comparisons take constant time.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from api.errors import ApiError
from flows.model import Flow, WebhookAuth

DEFAULT_KEY_HEADER = "X-API-Key"
DEFAULT_SIGNATURE_HEADER = "X-Signature"


def check_webhook_auth(flow: Flow, secret: str | None, headers: Mapping[str, str], query: Mapping[str, str],
                       body: bytes, now: float | None = None) -> None:
    """Raise ApiError 401/403 unless the request passes the flow's ``webhook_auth``; 503 when the
    secret it names is not stored (the flow's owner must store it, the caller can do nothing)."""
    auth = flow.webhook_auth
    if auth is None or auth.type == "none":
        return
    if secret is None:
        raise ApiError(503, f"flow '{flow.id}' checks its callers against the secret '{auth.secret}', which is not "
                            f"stored; its owner stores it with PUT /secrets/{auth.secret}; nothing was started")
    if auth.type == "basic":
        _check_basic(flow, auth, secret, headers)
    elif auth.type == "api_key":
        _check_api_key(flow, auth, secret, headers, query)
    else:
        _check_signature(flow, auth, secret, headers, body, time.time() if now is None else now)


def credential_fields(auth: WebhookAuth | None) -> tuple[str | None, str | None]:
    """(header, query parameter) that carry the flow's API key: left out of the message, so the key
    never reaches a step or Temporal's history (Authorization never does)."""
    if auth is None or auth.type != "api_key":
        return None, None
    if auth.query is not None:
        return None, auth.query
    return (auth.header or DEFAULT_KEY_HEADER).lower(), None


def _check_basic(flow: Flow, auth: WebhookAuth, secret: str, headers: Mapping[str, str]) -> None:
    given = headers.get("authorization", "")
    scheme, _, encoded = given.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise _missing(flow, "HTTP basic credentials (an Authorization: Basic header)",
                       {"WWW-Authenticate": f'Basic realm="conflux flow {flow.id}"'})
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _refused(flow, "the Authorization header is not base64 of 'user:password'") from None
    user_ok = hmac.compare_digest(user.encode(), (auth.username or "").encode())
    if not (hmac.compare_digest(password.encode(), secret.encode()) and user_ok):
        raise _refused(flow, "wrong user name or password")


def _check_api_key(flow: Flow, auth: WebhookAuth, secret: str, headers: Mapping[str, str],
                   query: Mapping[str, str]) -> None:
    if auth.query is not None:
        given, where = query.get(auth.query), f"the query parameter '{auth.query}'"
    else:
        header = auth.header or DEFAULT_KEY_HEADER
        given, where = headers.get(header.lower()), f"the header {header}"
    if not given:
        raise _missing(flow, f"an API key in {where}")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise _refused(flow, f"the API key in {where} is wrong")


def _check_signature(flow: Flow, auth: WebhookAuth, secret: str, headers: Mapping[str, str], body: bytes,
                     now: float) -> None:
    header = auth.header or DEFAULT_SIGNATURE_HEADER
    given = headers.get(header.lower())
    if not given:
        raise _missing(flow, f"an HMAC-{auth.algorithm.upper()} signature of the body in the header {header}")
    signed = body
    if auth.timestamp_header is not None:
        stamp = headers.get(auth.timestamp_header.lower())
        if not stamp:
            raise _missing(flow, f"the request's Unix time in the header {auth.timestamp_header}")
        try:
            age = now - float(stamp)
        except ValueError:
            raise _refused(flow, f"the header {auth.timestamp_header} is not a Unix time in seconds") from None
        if abs(age) > auth.tolerance_seconds:
            raise _refused(flow, f"the request was signed {age:.0f} s from now, beyond the "
                                 f"{auth.tolerance_seconds} s allowed (a replay, or a clock off)")
        signed = stamp.encode() + b"." + body
    expected = auth.signature_prefix + hmac.new(secret.encode(), signed, getattr(hashlib, auth.algorithm)).hexdigest()
    if not hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode()):
        what = f"'{auth.timestamp_header} value' + '.' + body" if auth.timestamp_header else "the body"
        raise _refused(flow, f"the signature in {header} does not match: expected {auth.signature_prefix or ''}"
                             f"hex HMAC-{auth.algorithm.upper()} of {what} under the flow's secret")


def _missing(flow: Flow, what: str, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(401, f"flow '{flow.id}' takes webhook requests with {what}; nothing was started",
                    headers=headers)


def _refused(flow: Flow, why: str) -> ApiError:
    return ApiError(403, f"flow '{flow.id}' refused the request: {why}; nothing was started")
