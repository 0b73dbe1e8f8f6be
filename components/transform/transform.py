"""Transform action: the output body is one JSONata expression applied to the input message."""

from typing import Any

from jsonata_expressions import evaluate, required_expression


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    expression = required_expression(cfg, "expression")
    result = evaluate(expression, msg)
    if result is None:
        emit.log.info("the expression selected nothing: the output body is null")
    emit.data(result)
