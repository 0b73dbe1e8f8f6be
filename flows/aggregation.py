"""The message an aggregate step receives: the parts of one split, gathered by the workflow, in the
order the splitter emitted them; or the messages a window collected for one key, in the order they
arrived. Pure, used by workflow code."""

from typing import Any

from steps.protocol import Message

SPLIT_KEY = "split"            # the splitter's metadata on each part: {"group", "index", "count"}
AGGREGATED_KEY = "aggregated"  # on the gathered message: {"group", "count", "received"} (window: {"key", "window", …})


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


def window_message(messages: list[Message], key: Any, window: str, step_id: str) -> Message:
    """The first message of a window (its id with the step's, its passthrough and request fields)
    with every collected message's body, in arrival order, as its body."""
    first = messages[0]
    return first.model_copy(update={
        "id": f"{first.id}-{step_id}",
        "body": [message.body for message in messages],
        "metadata": {**first.metadata, AGGREGATED_KEY: {
            "key": key, "window": window, "count": len(messages), "received": len(messages)}},
    })


def is_window_group(message: Message) -> bool:
    """A window's messages already gathered (a retry from the aggregate step of the run a window started)."""
    aggregated = message.metadata.get(AGGREGATED_KEY)
    return isinstance(aggregated, dict) and "window" in aggregated


def _split_of(message: Message) -> dict[str, Any]:
    split = message.metadata.get(SPLIT_KEY)
    return split if isinstance(split, dict) else {}


def _split_order(message: Message) -> tuple[int, int, str]:
    index = _split_of(message).get("index")
    return (index if isinstance(index, int) else 0, len(message.id), message.id)
