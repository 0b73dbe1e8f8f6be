"""Which flows run: what every API process reads before it accepts a message for a flow.

A row per flow that was ever started or stopped; no row means never started (a real-time flow
then refuses messages, an ordinary one takes them: it needs nothing started). The flow's workflow keeps
its own state; this table is the API's side, written before the workflow is told, so a
stopped flow refuses new messages at once.
"""

from pathlib import Path
from typing import Literal

from api.store import connect_db, utc_now

FlowRunState = Literal["running", "stopped"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS flow_states (
    flow_id    TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class FlowStates:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with connect_db(self.path) as db:
            db.execute(SCHEMA)

    def get(self, flow_id: str) -> FlowRunState | None:
        with connect_db(self.path) as db:
            row = db.execute("SELECT state FROM flow_states WHERE flow_id = ?", (flow_id,)).fetchone()
        return row["state"] if row else None

    def set(self, flow_id: str, state: FlowRunState) -> None:
        with connect_db(self.path) as db:
            db.execute("INSERT INTO flow_states (flow_id, state, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (flow_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                       (flow_id, state, utc_now()))
