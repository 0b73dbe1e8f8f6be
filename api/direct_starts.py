"""Which way an ordinary flow's message goes: the API process starts its run itself (fastest
while few starts are under way), or hands it to the flow's intake (workflows/intake.py) in a
flood. One policy, per API process."""

import contextlib
import time
from collections.abc import Iterator

FLOOD_SECONDS = 1.0


class DirectStarts:
    """``limit`` runs this process starts itself at once; past it a flow's messages go to its
    intake, and keep going there for FLOOD_SECONDS (a start of this process's own would only queue
    at Temporal behind the intake's)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._flooded_until: dict[str, float] = {}

    def to_intake(self, flow_id: str) -> bool:
        now = time.monotonic()
        if self.in_flight < self.limit and now >= self._flooded_until.get(flow_id, 0.0):
            return False
        self._flooded_until[flow_id] = now + FLOOD_SECONDS
        return True

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
