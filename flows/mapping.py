"""JSONata mappings between steps, evaluated in the platform (no extra container).

A mapping is one expression for the whole next body, or target field -> expression. Every
expression sees the incoming body as its input, ``$steps`` (earlier steps' outputs by step id: the
message's passthrough) and ``$msg`` (the whole message the step receives: id, body, headers,
attachments, metadata, passthrough, and the webhook request's method, url, query and path, which
every step's message keeps: flows/step_output.py).
"""

from functools import lru_cache
from typing import Any

import jsonata

from flows.model import Mapping


class MappingError(ValueError):
    """An expression that does not parse or fails on this message."""


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> jsonata.Jsonata:
    try:
        return jsonata.Jsonata(expression)
    except Exception as exc:  # jsonata raises JException and, for some input, plain Python errors
        raise MappingError(f"JSONata expression {expression!r} does not parse: {exc}") from None


def mapping_errors(mapping: Mapping) -> list[tuple[str, str]]:
    """(where, problem) for each expression of the mapping that does not parse."""
    problems = []
    for where, expression in _expressions(mapping):
        try:
            compile_expression(expression)
        except MappingError as exc:
            problems.append((where, str(exc)))
    return problems


def apply_mapping(mapping: Mapping, body: Any, message: dict[str, Any]) -> Any:
    """The body the next step receives."""
    bindings = {"steps": message.get("passthrough") or {}, "msg": message}
    if isinstance(mapping, str):
        return _evaluate(mapping, body, bindings, "mapping")
    return {field: _evaluate(expression, body, bindings, f"mapping.{field}") for field, expression in mapping.items()}


def _evaluate(expression: str, body: Any, bindings: dict[str, Any], where: str) -> Any:
    compiled = compile_expression(expression)
    try:
        return compiled.evaluate(body, bindings)
    except Exception as exc:
        raise MappingError(f"{where}: {expression!r} failed on this message: {exc}") from None


def _expressions(mapping: Mapping) -> list[tuple[str, str]]:
    if isinstance(mapping, str):
        return [("mapping", mapping)]
    return [(f"mapping.{field}", expression) for field, expression in mapping.items()]
