"""Ids that must never repeat within a flow's life, and the idempotency key a step request
carries: the same on every retry of that step for that message, different for any other.

A target that honours the key (the `Idempotency-Key` header http-request sends) applies a
retried request once, whatever crashed in between: a worker, a container, the network.
"""

RUN_ID_CHARS = 12  # 48 random bits of the run id


def idempotency_key(flow_id: str, message_id: str, step_id: str) -> str:
    """Message ids are unique within a flow (a fan-out's outputs are ``<id>-<index>``), so this is
    unique per message and step; readable, to find the run a target's log line belongs to."""
    return f"{flow_id}/{message_id}/{step_id}"


def poll_message_id(flow_id: str, poll_number: int, poller_run_id: str) -> str:
    """Poll numbers start again at 1 when a poller is created anew (a flow stopped and started,
    deleted and defined again): the first run id of the poller's workflow keeps the ids apart. Its
    tail, not its head: Temporal's run ids are UUIDv7, whose head is a timestamp that changes only
    every minute or so, while the tail is random."""
    suffix = poller_run_id.replace("-", "")[-RUN_ID_CHARS:]
    return f"{flow_id}-poll-{poll_number}-{suffix}" if poller_run_id else f"{flow_id}-poll-{poll_number}"


def entry_of(message_id: str, entries: list[str]) -> str | None:
    """Which of ``entries`` (messages that entered a run) ``message_id`` is, or came from: a fan-out
    names its outputs ``<id>-<index>``, so the longest entry that is the id or a prefix of it
    followed by ``-``."""
    found = [entry for entry in entries if message_id == entry or message_id.startswith(f"{entry}-")]
    return max(found, key=len, default=None)
