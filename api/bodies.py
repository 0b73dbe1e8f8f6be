"""Reading request bodies with a size cap, and turning them into a message body.

The cap is enforced before the body is in memory: a declared Content-Length above it is refused
at once, and a streamed (chunked) body is counted while it arrives.
"""

import base64
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from api.errors import ApiError

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or ApiError 413 as soon as it is known to be larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"the Content-Length header {declared!r} is not a number of bytes")
        if int(declared) > limit:
            raise too_large(limit, int(declared))
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise too_large(limit)
    return bytes(received)


def too_large(limit: int, size: int | None = None) -> ApiError:
    told = f"is {size:,} bytes, above" if size is not None else "goes past"
    return ApiError(413, f"the request body {told} the limit of {limit:,} bytes; send large data by "
                         "reference (a URL a step fetches) or split it into several requests")


def parse_json(data: bytes, what: str = "the request body") -> Any:
    """JSON of a body that must be JSON; an empty body is ``{}``."""
    if not data.strip():
        return {}
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"{what} is not UTF-8 (byte {exc.start} cannot be decoded); send UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
                            "send one JSON document (Content-Type: application/json)") from None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_webhook_body(data: bytes, content_type: str | None) -> Any:
    """JSON, form fields as a dict, ``{"raw": text}`` for other text, ``{"base64": ...}`` for binary."""
    kind = media_type(content_type)
    if not data.strip():
        return {}
    if kind in JSON_TYPES or kind.endswith("+json"):
        return parse_json(data)
    if kind == MULTIPART_TYPE:
        return _multipart_fields(data, content_type or "")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii"), "contentType": kind or None}
    if kind in ("", FORM_TYPE):
        # curl -d sends JSON as a form unless told otherwise: a body that is JSON is taken as JSON.
        as_json = _json_or_none(text)
        if as_json is not None:
            return as_json
    if kind == FORM_TYPE:
        return multi_dict(parse_qsl(text, keep_blank_values=True))
    return {"raw": text}


def multi_dict(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """One value per key, or a list of them for a key that repeats (``?tag=a&tag=b``)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key not in result:
            result[key] = value
        elif isinstance(result[key], list):
            result[key].append(value)
        else:
            result[key] = [result[key], value]
    return result


def _json_or_none(text: str) -> dict | list | None:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _multipart_fields(data: bytes, content_type: str) -> dict[str, str | list[str]]:
    """Text fields of a multipart form; file parts are refused (there is no attachment store yet)."""
    if "boundary=" not in content_type:
        raise ApiError(400, "the multipart/form-data body has no boundary in its Content-Type header")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    if not message.is_multipart():
        raise ApiError(400, "the multipart/form-data body cannot be parsed: check the boundary")
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            raise ApiError(415, f"form field '{name}' is a file upload, which webhooks do not accept; "
                                "send the file's URL in a JSON body instead")
        if name is None:
            raise ApiError(400, "a multipart/form-data part has no name in its Content-Disposition header")
        payload = part.get_payload(decode=True)  # bytes, or None for a part that is itself multipart
        charset = part.get_content_charset() or "utf-8"
        pairs.append((str(name), payload.decode(charset, errors="replace") if isinstance(payload, bytes) else ""))
    return multi_dict(pairs)
