"""The 'count' polling trigger: shows the snapshot, the state a step keeps between polls."""

from typing import Any


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    count = int(snapshot.get("count", 0)) + 1
    emit.data({"count": count})
    emit.snapshot({"count": count})
