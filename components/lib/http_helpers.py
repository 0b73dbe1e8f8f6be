"""What the HTTP components (http-request, poll-http) share: the ``headers`` field and URLs fit for
messages. Standard library only."""

import json
import urllib.parse
from typing import Any


def header_config(value: Any) -> dict[str, str]:
    """Headers come as an object, or as JSON text from a text area."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"cfg 'headers' must be a JSON object of name -> value: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"cfg 'headers' must be an object of name -> value, not {type(value).__name__}")
    return {str(name): str(header) for name, header in value.items()}


def without_query(url: str) -> str:
    """The URL for messages: query strings and user info often carry secrets, so they stay out."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
