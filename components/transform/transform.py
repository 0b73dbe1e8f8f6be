"""Transform action: one JSONata expression applied to the input message.

elastic.io's semantics, so their flows behave the same: a result that is null (or selects nothing)
or an empty object emits no message; an array emits one message per item, unless
``dontSplitArray`` keeps it as one message (an empty array emits none either way). Conflux emits a
string, number or boolean as one message whose body it is (elastic.io drops numbers and booleans
and splits a string into characters).
"""

from typing import Any

from jsonata_expressions import evaluate, required_expression


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    expression = required_expression(cfg, "expression")
    result = evaluate(expression, msg, emit.flow_variables)
    for body in bodies(result, keep_arrays=bool(cfg.get("dontSplitArray"))):
        emit.data(body)


def bodies(result: Any, keep_arrays: bool) -> list[Any]:
    """The bodies of the messages a result makes."""
    if result is None or result == {} or result == []:
        return []
    if isinstance(result, list) and not keep_arrays:
        return list(result)
    return [result]
