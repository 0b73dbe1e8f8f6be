"""Ids and tokens the API gives out that only it reads back (error ids, page tokens): a short
JSON list as base64url without padding, so callers treat them as opaque strings that survive
URLs and query parameters."""

import base64
import binascii
import json
from typing import Any


def encode_opaque(parts: list[Any]) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_opaque(value: str) -> Any:
    """The list it was made of; ValueError when it is not one of ours."""
    try:
        return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not an id this API gave out") from None
