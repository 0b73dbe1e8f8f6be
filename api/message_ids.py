"""The message ids a real-time flow accepted, so that a repeated delivery (the same
Idempotency-Key or X-Request-Id) is answered as a duplicate and not signalled again.

Kept for ``window_seconds`` (24 hours by default) in the API's database, which every API
process on the machine shares. An id is claimed before its signal and confirmed after Temporal
acknowledged it; a repeat of an id that was claimed but never confirmed (the API died between
the two) is signalled again, so a crash can cost a duplicate signal but never a message. The
flow's workflow keeps a second window (its last 10,000 ids) that survives continue-as-new and
drops such a second signal.
"""

import sqlite3
import time
from pathlib import Path

from api.store import connect_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_ids (
    flow_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    confirmed   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (flow_id, message_id)
) WITHOUT ROWID
"""
PRUNE_EVERY_SECONDS = 60.0


class AcceptedIds:
    def __init__(self, path: Path, window_seconds: float = 24 * 3600) -> None:
        self.path = Path(path)
        self.window_seconds = window_seconds
        self._pruned = 0.0
        with connect_db(self.path) as db:
            db.execute(SCHEMA)

    def claim(self, flow_id: str, message_ids: list[str]) -> list[bool]:
        """For each id, True when it is to be signalled (new, expired, or never confirmed), False
        for a repeat of an accepted message within the window."""
        now = time.time()
        fresh = []
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            self._prune(db, now)
            for message_id in message_ids:
                cursor = db.execute(
                    "INSERT INTO accepted_ids (flow_id, message_id, accepted_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET accepted_at = excluded.accepted_at, confirmed = 0 "
                    "WHERE accepted_ids.accepted_at < ? OR accepted_ids.confirmed = 0",
                    (flow_id, message_id, now, now - self.window_seconds))
                fresh.append(cursor.rowcount == 1)
        return fresh

    def confirm(self, flow_id: str, message_ids: list[str]) -> None:
        """Temporal acknowledged the signal that carried these ids."""
        with connect_db(self.path) as db:
            db.executemany("UPDATE accepted_ids SET confirmed = 1 WHERE flow_id = ? AND message_id = ?",
                           [(flow_id, message_id) for message_id in message_ids])

    def release(self, flow_id: str, message_ids: list[str]) -> None:
        """Give ids back: their messages were not accepted after all (the signal failed)."""
        with connect_db(self.path) as db:
            db.executemany("DELETE FROM accepted_ids WHERE flow_id = ? AND message_id = ?",
                           [(flow_id, message_id) for message_id in message_ids])

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._pruned >= PRUNE_EVERY_SECONDS:
            db.execute("DELETE FROM accepted_ids WHERE accepted_at < ?", (now - self.window_seconds,))
            self._pruned = now
