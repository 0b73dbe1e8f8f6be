"""HTTP request action: one call with urllib (its connection kept open for the next call), its
outcome sorted into data, rebound or error.

Retrying is the platform's job, so a temporary failure (the target is down, slow or rate
limiting) raises ``Rebound``; a request the target rejects for good (other 4xx) is an error.
Every request carries the message's idempotency key for this step (the same on each retry) in
an ``Idempotency-Key`` header, so a target that honours it applies a retried request once.
"""

import http.client
import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

from http_helpers import header_config, without_query
from keepalive import build_opener
from placeholders import fill

from conflux_runtime import Rebound

METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}
REBOUND_STATUSES = {408, 429}
EXCERPT_CHARS = 500
DEFAULT_TIMEOUT = 30.0
IDEMPOTENCY_HEADER = "Idempotency-Key"
OPENER = build_opener()  # one per process: a warm container keeps its connections between messages


class HttpError(Exception):
    """The target rejected the request (a 4xx other than 408/429, or an unfollowed redirect)."""


def process(msg: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    request = build_request(msg.get("body"), cfg, msg.get("idempotencyKey"))
    return send(request, timeout_of(cfg))


def timeout_of(cfg: dict[str, Any]) -> float:
    value = cfg.get("timeout")
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = 0.0
    if timeout <= 0:
        raise ValueError(f"cfg 'timeout' must be a positive number of seconds, got {value!r}")
    return timeout


def idempotency_header(cfg: dict[str, Any]) -> str | None:
    """The header that carries the key: ``Idempotency-Key`` unless configured; false or "off": none."""
    name = cfg.get("idempotencyHeader")
    if name is False or (isinstance(name, str) and name.strip().lower() == "off"):
        return None
    if name in (None, "", True):
        return IDEMPOTENCY_HEADER
    if not isinstance(name, str) or not name.strip().replace("-", "").isalnum():
        raise ValueError(f"cfg 'idempotencyHeader' must be a header name (letters, digits, -) or \"off\", got {name!r}")
    return name.strip()


def build_request(message_body: Any, cfg: dict[str, Any], idempotency_key: str | None = None) -> urllib.request.Request:
    template = cfg.get("url")
    if not isinstance(template, str) or not template.strip():
        raise ValueError("cfg 'url' is required: the URL to call, e.g. https://api.example.com/orders/{id}")
    url = fill(template.strip(), message_body)
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"cfg 'url' must be an http:// or https:// URL, got {url!r}")
    configured_body = cfg.get("body")
    has_body = configured_body not in (None, "")
    method = str(cfg.get("method") or ("POST" if has_body else "GET")).upper()
    headers = header_config(cfg.get("headers"))
    data: bytes | None = None
    content_type = ""
    if has_body:
        data, content_type = encode(configured_body)
    elif method in METHODS_WITH_BODY:
        data, content_type = encode_json(message_body)
    if data is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    key_header = idempotency_header(cfg)
    if idempotency_key and key_header and not any(name.lower() == key_header.lower() for name in headers):
        headers[key_header] = idempotency_key
    return urllib.request.Request(url, data=data, method=method, headers=headers)


def encode(body: Any) -> tuple[bytes, str]:
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return encode_json(body)


def encode_json(body: Any) -> tuple[bytes, str]:
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"


def send(request: urllib.request.Request, timeout: float) -> dict[str, Any]:
    where = f"{request.get_method()} {without_query(request.full_url)}"
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return {"status": response.status, "headers": flat_headers(response.headers),
                    "body": decode(response.read(), response.headers)}
    except urllib.error.HTTPError as exc:
        raise classify(where, exc) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Rebound(f"{where} failed: {type(exc).__name__}: {reason}") from None


def classify(where: str, exc: urllib.error.HTTPError) -> Exception:
    """408, 429 and 5xx are worth retrying; anything else will fail the same way again."""
    body = exc.read()
    excerpt = body.decode("utf-8", "replace")[:EXCERPT_CHARS]
    message = f"{where} answered {exc.code} {exc.reason}"
    if excerpt.strip():
        message += f": {excerpt}"
    if exc.code in REBOUND_STATUSES or exc.code >= 500:
        return Rebound(message, delay=retry_after(exc.headers))
    return HttpError(message)


def retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: let the platform's backoff decide


def flat_headers(headers: Message) -> dict[str, str]:
    """Header name -> value; a repeated header's values are joined with ', '."""
    flat: dict[str, str] = {}
    for name, value in headers.items():
        flat[name] = f"{flat[name]}, {value}" if name in flat else value
    return flat


def decode(raw: bytes, headers: Message) -> Any:
    """JSON for a JSON content type (``application/json``, ``*+json``), text otherwise."""
    charset = headers.get_content_charset() or "utf-8"
    text = raw.decode(charset, "replace")
    content_type = headers.get_content_type()
    if content_type == "application/json" or content_type.endswith("+json"):
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise HttpError(f"the response claims {content_type} but is not JSON ({exc}): "
                            f"{text[:EXCERPT_CHARS]}") from None
    return text
