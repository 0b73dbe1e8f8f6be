"""Splitter action: one data message per element of what a JSONata expression selects.

elastic.io's semantics (its "Split on JSONata Expression"): each element of an array is a message
(an empty array: none); a single object is one message (JSONata gives a path that matches one
element that element, not an array of one). Conflux deliberately goes further: a string, number or
boolean, alone or in an array, is a message too (elastic.io fails with "Can't emit single
primitive!" / "Splitting arrays of objects only!"). A path that selects nothing is an error.

Each part carries ``metadata.split``: ``{"group": <the split message's id>, "index", "count"}``, so an
``aggregate`` step (and any component) knows which split it belongs to and where.
"""

from typing import Any

from jsonata_expressions import evaluate, required_expression


class SplitError(Exception):
    """The path selected nothing."""


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    path = required_expression(cfg, "path", "expression")
    selected = evaluate(path, msg, emit.flow_variables)
    if selected is None:
        raise SplitError(
            f"the path {path!r} selected nothing (no such field in the body); fix the path, "
            "or use a transform step when nothing to split is not an error"
        )
    parts = selected if isinstance(selected, list) else [selected]
    for index, item in enumerate(parts):
        emit.data(item, metadata={"split": {"group": msg.get("id") or "", "index": index, "count": len(parts)}})
