"""JSONata mappings between steps, evaluated in the platform (no extra container).

A mapping is one expression for the whole next body, or target field -> expression. Every
expression sees the incoming body as its input, ``$steps`` (earlier steps' outputs by step id: the
message's passthrough), ``$msg`` (the whole message the step receives: id, body, headers,
attachments, metadata, passthrough, and the webhook request's method, url, query and path, which
every step's message keeps: flows/step_output.py), and elastic.io's ``$getFlowVariables()``,
``$getPassthrough()`` and ``elasticio.<step id>``. Those bindings are made by the module the
component images carry (components/lib/jsonata_expressions.py), loaded here from its file, so a
mapping and a transform step evaluate the same expression alike.
"""

import importlib.util
from functools import lru_cache
from types import ModuleType
from typing import Any

import jsonata

from catalog.components import LIB_DIR
from flows.model import Mapping


class MappingError(ValueError):
    """An expression that does not parse or fails on this message."""


def _load_shared_expressions() -> ModuleType:
    """components/lib/jsonata_expressions.py under a name of its own (no clash with a component's import)."""
    spec = importlib.util.spec_from_file_location("conflux_jsonata_expressions", LIB_DIR / "jsonata_expressions.py")
    assert spec is not None and spec.loader is not None, f"{LIB_DIR}/jsonata_expressions.py is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shared = _load_shared_expressions()


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


def apply_mapping(mapping: Mapping, message: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """The body the next step receives, made from the message (as JSON) and the flow's variables."""
    bindings = shared.bindings(message, variables)
    if isinstance(mapping, str):
        return _evaluate(mapping, message, bindings, "mapping")
    return {field: _evaluate(expression, message, bindings, f"mapping.{field}")
            for field, expression in mapping.items()}


def _evaluate(expression: str, message: dict[str, Any], bindings: dict[str, Any], where: str) -> Any:
    compiled = compile_expression(expression)
    try:
        return compiled.evaluate(shared.expression_input(expression, message), bindings)
    except Exception as exc:
        raise MappingError(f"{where}: {expression!r} failed on this message: {exc}") from None


def _expressions(mapping: Mapping) -> list[tuple[str, str]]:
    if isinstance(mapping, str):
        return [("mapping", mapping)]
    return [(f"mapping.{field}", expression) for field, expression in mapping.items()]
