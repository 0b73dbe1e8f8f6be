"""JSONata expressions compiled once per distinct text, evaluated with the step's variables.

The one implementation of what every JSONata expression of Conflux sees: the component images
carry it (components/lib is on their PYTHONPATH; a component that imports it lists
``jsonata-python`` in its requirements.txt), and the platform loads this same file for the
mappings between steps (flows/mapping.py), so both sides evaluate alike.

What an expression sees besides the body it is applied to:
- ``$steps``: earlier steps' bodies by step id (the message's passthrough), ``$msg`` the whole message;
- elastic.io's extensions, so their expressions move over unchanged: ``$getFlowVariables()`` (the
  flow's ``variables``), ``$getPassthrough()`` and the body path ``elasticio.<step id>``, both the
  earlier steps' whole messages as elastic.io shapes them: ``{"body", "headers", "stepId"}``.

``elasticio`` is added to the body only for an expression that names it, only to an object body,
and never over a field of the body's own called ``elasticio`` (elastic.io fails the message then;
here the body's field wins).
"""

from typing import Any

import jsonata

PASSTHROUGH_KEY = "elasticio"

_compiled: dict[str, jsonata.Jsonata] = {}


class ExpressionError(Exception):
    """The JSONata expression does not parse, or fails while being evaluated."""


def compiled(expression: str) -> jsonata.Jsonata:
    if expression not in _compiled:
        try:
            _compiled[expression] = jsonata.Jsonata(expression)
        except Exception as exc:  # jsonata raises JException (a RuntimeError) with the position in the text
            raise ExpressionError(f"invalid JSONata expression {expression!r}: {exc}") from None
    return _compiled[expression]


def evaluate(expression: str, msg: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """The expression applied to the message body; None when it selects nothing."""
    try:
        return compiled(expression).evaluate(expression_input(expression, msg), bindings(msg, variables))
    except ExpressionError:
        raise
    except Exception as exc:
        raise ExpressionError(f"JSONata expression {expression!r} failed: {exc}") from None


def bindings(msg: dict[str, Any], variables: dict[str, Any] | None) -> dict[str, Any]:
    """The variables and functions every expression may use (the functions build their answer
    only when called)."""
    flow_variables = dict(variables or {})
    return {
        "steps": msg.get("passthrough") or {},
        "msg": msg,
        "getPassthrough": jsonata.Jsonata.JLambda(lambda: passthrough_messages(msg)),
        "getFlowVariables": jsonata.Jsonata.JLambda(lambda: flow_variables),
    }


def expression_input(expression: str, msg: dict[str, Any]) -> Any:
    """The body, with ``elasticio`` added when the expression names it (see the module's docstring)."""
    body = msg.get("body")
    if PASSTHROUGH_KEY not in expression or not isinstance(body, dict) or PASSTHROUGH_KEY in body:
        return body
    return {**body, PASSTHROUGH_KEY: passthrough_messages(msg)}


def passthrough_messages(msg: dict[str, Any]) -> dict[str, Any]:
    """Earlier steps' messages as elastic.io's passthrough holds them. Conflux carries each step's
    body, and the headers of the steps that emitted headers of their own (``passthroughHeaders``)."""
    headers = msg.get("passthroughHeaders") or {}
    return {step: {"body": body, "headers": headers.get(step) or {}, "stepId": step}
            for step, body in (msg.get("passthrough") or {}).items()}


def required_expression(cfg: dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` the config sets (a component may accept elastic.io's field name too)."""
    for key in keys:
        expression = cfg.get(key)
        if isinstance(expression, str) and expression.strip():
            return expression
    raise ExpressionError(f"cfg '{keys[0]}' is required: a JSONata expression, e.g. {{\"id\": orderId}}")


def is_truthy(value: Any) -> bool:
    """JavaScript's truthiness, which elastic.io's conditions use: an empty array or object is true,
    0, NaN, "" and null are false."""
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, float) and value != value:
        return False
    return bool(value)
