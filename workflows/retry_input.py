"""What a failure keeps so that it can be retried from its step: the message as it arrived there
(before the step's mapping, which must apply again on the version that retries it).

Kept for failures only, and only while small: every copy lives in the run's failure details (or
a real-time flow's recent failures, carried across continue-as-new), so a large message would
grow the history of exactly the runs that already went wrong. Without it a retry from the step is
refused; a plain retry (the trigger message, read from the run's start) still works.
"""

from steps.protocol import Message

KEPT_MESSAGE_CHARS = 8 * 1024


def kept(message: Message) -> Message | None:
    """``message`` (without a step's idempotency key) when its JSON fits KEPT_MESSAGE_CHARS, else None."""
    bare = message.model_copy(update={"idempotencyKey": None}) if message.idempotencyKey else message
    return bare if len(bare.model_dump_json()) <= KEPT_MESSAGE_CHARS else None
