"""Splitter action: one data message per element of the array a JSONata path selects."""

from typing import Any

from jsonata_expressions import evaluate, required_expression


class SplitError(Exception):
    """The path did not select an array."""


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    path = required_expression(cfg, "path")
    selected = evaluate(path, msg)
    if not isinstance(selected, list):
        raise SplitError(
            f"the path {path!r} must select an array, but it selected {describe(selected)}; "
            "fix the path (append [] to always get an array, e.g. orders.lines[])"
        )
    for item in selected:
        emit.data(item)


def describe(value: Any) -> str:
    """A short phrase for an error message: what was found instead of an array."""
    if value is None:
        return "nothing (no such field in the body)"
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:8]) or "no keys"
        return f"an object (keys: {keys})"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:60]!r})"
    return f"a {type(value).__name__}"
