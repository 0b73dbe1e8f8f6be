"""The message an aggregate step receives: the parts of one split, gathered by the workflow, in the
order the splitter emitted them. Pure, used by workflow code."""

from typing import Any

from steps.protocol import Message

SPLIT_KEY = "split"            # the splitter's metadata on each part: {"group", "index", "count"}
AGGREGATED_KEY = "aggregated"  # on the gathered message: {"group", "count", "received"}


def group_message(entered: Message, parts: list[Message]) -> Message:
    """``entered`` (the message the splitter split) with the parts' bodies, in split order, as its body.
    Parts a step between split and aggregate multiplied keep their order among themselves."""
    ordered = sorted(parts, key=_split_order)
    split = _split_of(ordered[0]) if ordered else {}
    return entered.model_copy(update={
        "body": [part.body for part in ordered],
        "metadata": {**entered.metadata, AGGREGATED_KEY: {
            "group": split.get("group", entered.id), "count": split.get("count", len(parts)),
            "received": len(parts)}},
    })


def _split_of(message: Message) -> dict[str, Any]:
    split = message.metadata.get(SPLIT_KEY)
    return split if isinstance(split, dict) else {}


def _split_order(message: Message) -> tuple[int, int, str]:
    index = _split_of(message).get("index")
    return (index if isinstance(index, int) else 0, len(message.id), message.id)
