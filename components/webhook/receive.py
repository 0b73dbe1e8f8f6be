"""Webhook trigger: the received HTTP request becomes the message body.

The platform has already turned the request into a message (``body``, ``headers``, ``method``,
``url``, ``query``, ``path``); this step makes all of it reachable by later steps as one body.
Flows do not start a container for it: the platform does the same itself (flows/step_output.py),
and a test keeps the two equal; this module is the reference, and a start for your own trigger.
"""

from typing import Any

REQUEST_DEFAULTS: dict[str, Any] = {"body": None, "headers": {}, "method": "POST", "query": {}, "path": "", "url": ""}


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    emit.data(request_of(msg), attachments=msg.get("attachments") or None)


def request_of(msg: dict[str, Any]) -> dict[str, Any]:
    """The request fields of the message; a missing or null field gets its empty value."""
    request = {}
    for key, default in REQUEST_DEFAULTS.items():
        value = msg.get(key)
        request[key] = default if value is None else value
    return request
