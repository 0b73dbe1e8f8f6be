"""Aggregate action: the parts of one split, gathered by the platform, as one message (or one per key).

The platform waits for every part of the split to reach this step (or to end on the way: dropped,
failed, sent down a branch that ends) and sends one request whose body is the parts' bodies in
split order, with ``metadata.aggregated = {group, count, received}``. This component shapes them:
``key`` (JSONata on each part) makes one message per distinct key, ``{"key", "parts"}``, in the order
the keys first appear; ``expression`` (JSONata) is applied to the array, or to each ``{key, parts}``.

In mode ``window`` the platform gathers instead the messages of any execution whose ``key`` is equal,
for ``window`` seconds (flows/aggregate_window.py), and sends their bodies in arrival order: the key
groups them as above, so the output is one ``{key, parts}``.
"""

from typing import Any

from jsonata_expressions import evaluate


class NotAGroup(Exception):
    """The body is not the parts of a split: the step does not follow a splitter."""


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    parts = msg.get("body")
    if not isinstance(parts, list):
        raise NotAGroup("an aggregate step gets the parts of a split as an array; this body is "
                        f"{type(parts).__name__}. Put the aggregate after a splitter, in the same line of steps")
    for group in groups(parts, msg, cfg, emit.flow_variables):
        expression = cfg.get("expression")
        emit.data(evaluate(expression, {**msg, "body": group}, emit.flow_variables) if expression else group)


def groups(parts: list[Any], msg: dict[str, Any], cfg: dict[str, Any], variables: dict[str, Any]) -> list[Any]:
    """The array of parts, or with a key the parts grouped by it: ``[{"key", "parts"}, ...]``."""
    key = cfg.get("key")
    if not key:
        return [parts]
    by_key: dict[str, dict[str, Any]] = {}
    for part in parts:
        value = evaluate(key, {**msg, "body": part}, variables)
        by_key.setdefault(repr(value), {"key": value, "parts": []})["parts"].append(part)
    return list(by_key.values())
