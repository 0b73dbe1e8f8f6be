"""Filter action: a JSONata condition lets a message pass unchanged, or drops it.

elastic.io's "Simple JSONata Filter", with its field names so its flows move over: ``expression``
(the condition, true or false as JavaScript counts: an empty array or object is true, 0, "" and
null are false), ``assertion`` (fail the message instead of dropping it) and
``addMetadataToResponse`` (add the earlier steps' messages to the body as ``elasticioMeta``).
Conflux adds ``addResultToMetadata``: the condition's result goes into the message's metadata
(under ``metadataKey``, default ``filterResult``), where later steps and the run records see it.
"""

from typing import Any

from jsonata_expressions import evaluate, is_truthy, passthrough_messages, required_expression

DEFAULT_METADATA_KEY = "filterResult"


class ConditionNotMet(Exception):
    """Assertion mode: the message did not meet the condition, so it fails."""


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    expression = required_expression(cfg, "expression")
    result = evaluate(expression, msg, emit.flow_variables)
    if not is_truthy(result):
        if cfg.get("assertion"):
            raise ConditionNotMet(f"Condition not met on JSONata expression: {expression} (the step's assertion "
                                  f"mode fails a message the condition drops; its result was {result!r})")
        emit.log.info("the message did not meet the condition: dropped")
        return
    emit.data(passed_body(msg, cfg), metadata=result_metadata(cfg, result))


def passed_body(msg: dict[str, Any], cfg: dict[str, Any]) -> Any:
    body = msg.get("body")
    if cfg.get("addMetadataToResponse") and isinstance(body, dict):
        return {**body, "elasticioMeta": passthrough_messages(msg)}
    return body


def result_metadata(cfg: dict[str, Any], result: Any) -> dict[str, Any] | None:
    if not cfg.get("addResultToMetadata"):
        return None
    return {str(cfg.get("metadataKey") or DEFAULT_METADATA_KEY): result}
