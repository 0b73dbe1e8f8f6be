"""Fills ``{field}`` placeholders of a URL from the message body.

A placeholder is a dotted path (``{order.id}``, ``{items.0.sku}``) into the body; the value is
URL-encoded so it can never change the URL's structure. ``{{`` and ``}}`` stand for literal braces.
"""

import re
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


class PlaceholderError(Exception):
    """A placeholder names a field the message body does not have."""


def fill(template: str, body: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return quote(_text(lookup(body, match.group(1).strip(), template)), safe="")

    return PLACEHOLDER.sub(replace, template)


def lookup(body: Any, path: str, template: str) -> Any:
    value = body
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise PlaceholderError(
                f"URL placeholder {{{path}}} in {template!r}: the message body has no field '{path}' "
                "(fix the URL or the previous step's output)"
            )
    if value is None:
        raise PlaceholderError(f"URL placeholder {{{path}}} in {template!r}: the field '{path}' is null")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
