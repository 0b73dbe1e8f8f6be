"""Per-flow rate limits, shared by every API process on the machine (the API's database).

The limit is a generic cell rate algorithm (GCRA, a token bucket kept as one number per flow):
a flow allowed ``per_second`` messages with a ``burst`` keeps the theoretical arrival time
(``tat``) of its next message. A message is admitted while ``tat`` is at most ``burst - 1``
intervals ahead of now, and moves ``tat`` one interval on; otherwise it is refused and told when
to come back. One row per flow, one short transaction per message; flows without a limit cost
nothing.
"""

import time
from pathlib import Path

from api.store import connect_db
from flows.model import RateLimit

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
    flow_id TEXT PRIMARY KEY,
    tat     REAL NOT NULL
) WITHOUT ROWID
"""


class RateLimits:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with connect_db(self.path) as db:
            db.execute(SCHEMA)

    def admit(self, flow_id: str, limit: RateLimit, now: float | None = None) -> float:
        """0.0 when the message is admitted (and counted); else the seconds until one would be."""
        now = time.time() if now is None else now
        interval = 1.0 / limit.per_second
        tolerance = (limit.burst_size - 1) * interval
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT tat FROM rate_limits WHERE flow_id = ?", (flow_id,)).fetchone()
            tat = max(row["tat"] if row else now, now)
            if tat - now > tolerance:
                return tat - tolerance - now
            db.execute("INSERT INTO rate_limits (flow_id, tat) VALUES (?, ?) "
                       "ON CONFLICT (flow_id) DO UPDATE SET tat = excluded.tat", (flow_id, tat + interval))
        return 0.0
