"""The message an aggregate step receives: the parts of one split, gathered by the workflow, in the
order the splitter emitted them; or the messages a window collected for one key, in the order they
arrived. Pure, used by workflow code."""

from typing import Any

from steps.protocol import Message

SPLIT_KEY = "split"            # the splitter's metadata on each part: {"group", "index", "count"}
AGGREGATED_KEY = "aggregated"  # on the gathered message: {"group", "count", "received"} (window: {"key", "window", …})


def group_message(entered: Message, parts: list[Message], count: int | None = None) -> Message:
    """``entered`` (the message the splitter split) with the parts' bodies, in split order, as its body.
    Parts a step between split and aggregate multiplied keep their order among themselves. ``count``:
    how many parts the splitter emitted, which the workflow knows (else the parts' split metadata says)."""
    ordered = sorted(parts, key=lambda part: _split_order(entered.id, part.id))
    split = _own_split(entered, parts)
    return entered.model_copy(update={
        "body": [part.body for part in ordered],
        "metadata": {**entered.metadata, AGGREGATED_KEY: {
            "group": split.get("group", entered.id),
            "count": count if count is not None else split.get("count", len(parts)), "received": len(parts)}},
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


def gathered_part(part: Message) -> Message:
    """What group_message reads of a part, for a child run to hand back: its passthrough (often the
    whole split input) and request fields would make a child's result grow with every part."""
    return Message(id=part.id, body=part.body, metadata=part.metadata)


def _split_of(message: Message) -> dict[str, Any]:
    split = message.metadata.get(SPLIT_KEY)
    return split if isinstance(split, dict) else {}


def _own_split(entered: Message, parts: list[Message]) -> dict[str, Any]:
    """The split metadata of this split: a splitter further on (in a branch, without an aggregate of its
    own) overwrote ``metadata.split`` of the parts that went through it. A retry from a step between
    split and aggregate enters with one part, which carries its split's metadata."""
    own = [split for split in map(_split_of, parts) if split.get("group") == entered.id]
    if own:
        return own[0]
    return _split_of(entered) if [part.id for part in parts] == [entered.id] else {}


def _split_order(entered_id: str, part_id: str) -> tuple[int, tuple[int, ...], str]:
    """Every output's id is its input's with ``-<emission index>`` appended (flows/step_output.py) when a
    step emits several, so the numeric segments after the split message's id are the split order,
    however deep later fan-outs went (``m-0-1-0`` before ``m-0-10``)."""
    rest = part_id[len(entered_id):] if part_id.startswith(entered_id) else None
    segments = rest.split("-")[1:] if rest else []
    if rest is None or (rest and rest[0] != "-") or not all(segment.isdigit() for segment in segments):
        return (1, (), part_id)  # not an id the split derived: after the others, by id
    return (0, tuple(int(segment) for segment in segments), part_id)
