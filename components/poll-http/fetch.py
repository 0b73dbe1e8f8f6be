"""One GET of the source, with the poll position as a query parameter.

An unreachable, failing (5xx) or rate-limiting (429, 408) source raises ``Rebound``, so the poll
is retried later and the snapshot stays where it was.
"""

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from http_helpers import without_query

from conflux_runtime import Rebound

EXCERPT_CHARS = 500


class SourceError(Exception):
    """The source rejected the request for good (4xx) or answered something that is not JSON."""


def url_with(url: str, name: str, value: Any) -> str:
    """``url`` with query parameter ``name`` set to ``value`` (replacing one already there)."""
    parts = urllib.parse.urlsplit(url)
    query = [(key, item) for key, item in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if key != name]
    query.append((name, value if isinstance(value, str) else json.dumps(value)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def get_json(url: str, headers: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    where = f"GET {without_query(url)}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        excerpt = exc.read().decode("utf-8", "replace")[:EXCERPT_CHARS]
        message = f"{where} answered {exc.code} {exc.reason}" + (f": {excerpt}" if excerpt.strip() else "")
        if exc.code in (408, 429) or exc.code >= 500:
            raise Rebound(message) from None
        raise SourceError(message) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as exc:
        raise Rebound(f"{where} failed: {type(exc).__name__}: {getattr(exc, 'reason', None) or exc}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        excerpt = raw[:EXCERPT_CHARS].decode("utf-8", "replace")
        raise SourceError(f"{where} did not answer JSON ({exc}): {excerpt}") from None
