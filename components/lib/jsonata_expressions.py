"""JSONata expressions compiled once per distinct text, evaluated with the step's variables.

Shared by the components that take a JSONata field (transform, splitter): every image has this
folder on its PYTHONPATH, and a component that imports this module lists ``jsonata-python`` in
its own requirements.txt.

Bindings: ``$steps`` is the message's passthrough (earlier steps' bodies by step id) and
``$msg`` the whole message, so an expression can reach beyond the body it is applied to.
"""

from typing import Any

import jsonata

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


def evaluate(expression: str, msg: dict[str, Any]) -> Any:
    """The expression applied to the message body; None when it selects nothing."""
    bindings = {"steps": msg.get("passthrough") or {}, "msg": msg}
    try:
        return compiled(expression).evaluate(msg.get("body"), bindings)
    except ExpressionError:
        raise
    except Exception as exc:
        raise ExpressionError(f"JSONata expression {expression!r} failed: {exc}") from None


def required_expression(cfg: dict[str, Any], key: str) -> str:
    expression = cfg.get(key)
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError(f"cfg '{key}' is required: a JSONata expression, e.g. {{\"id\": orderId}}")
    return expression
