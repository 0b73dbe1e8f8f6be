"""Which flows run: what every API process reads before it accepts a message for a flow.

A row per flow that was ever started or stopped; no row means never started (a real-time flow
then refuses messages, an ordinary one takes them: it needs nothing started). The flow's workflow keeps
its own state; this table is the API's side, written before the workflow is told, so a
stopped flow refuses new messages at once.

Publishing never changes whether a flow takes messages: a switch between ordinary and real-time
rewrites the row, in the transaction that stores the new version, so that the flow takes
messages afterwards exactly when it did before (``carry_over``).
"""

import sqlite3
from pathlib import Path
from typing import Literal

from api.store import StoredFlow, connect_db, utc_now
from flows.model import Flow

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

    def all(self) -> dict[str, FlowRunState]:
        """Every flow's row, by flow id (flows never started or stopped have none)."""
        with connect_db(self.path) as db:
            return {row["flow_id"]: row["state"] for row in db.execute("SELECT flow_id, state FROM flow_states")}

    def set(self, flow_id: str, state: FlowRunState) -> None:
        with connect_db(self.path) as db:
            _write(db, flow_id, state)

    @staticmethod
    def carry_over(db: sqlite3.Connection, previous: StoredFlow | None, new: StoredFlow) -> None:
        """A FlowStore new-version hook: an ordinary webhook flow that took messages becomes a
        real-time flow that runs (its workflow is started after the commit, and queues the
        messages meanwhile); one that did not stays stopped. The same the other way round."""
        if previous is None or not is_switch(previous.flow, new.flow):
            return
        row = db.execute("SELECT state FROM flow_states WHERE flow_id = ?", (new.flow.id,)).fetchone()
        took_messages = takes_messages(previous.flow, row["state"] if row else None)
        _write(db, new.flow.id, "running" if took_messages else "stopped")


def takes_messages(flow: Flow, state: FlowRunState | None) -> bool:
    """A real-time flow once started; an ordinary webhook flow unless stopped (it needs nothing started)."""
    return state == "running" if flow.type == "realtime" else state != "stopped"


def is_switch(previous: Flow, new: Flow) -> bool:
    """A publish that moves a webhook flow between ordinary and real-time."""
    return previous.type != new.type and previous.trigger.type == new.trigger.type == "webhook"


def _write(db: sqlite3.Connection, flow_id: str, state: FlowRunState) -> None:
    db.execute("INSERT INTO flow_states (flow_id, state, updated_at) VALUES (?, ?, ?) "
               "ON CONFLICT (flow_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
               (flow_id, state, utc_now()))
