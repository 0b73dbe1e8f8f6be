"""The retries the API started, in its database (shared by every API process on the machine):
which executions retried an error (``retries`` of GET /flows/{id}/errors), and the number of
each retry of one message, so retry ids never repeat (``<flow>:<message>:retry-<n>``).

A table and not a search attribute: a real-time flow's retry is a message queued in the flow's
long-lived workflow, with no workflow of its own to carry one.
"""

from pathlib import Path

from api.store import connect_db, utc_now

SCHEMA = ("""
CREATE TABLE IF NOT EXISTS retry_numbers (
    flow_id    TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    PRIMARY KEY (flow_id, message_id, number)
) WITHOUT ROWID
""", """
CREATE TABLE IF NOT EXISTS error_retries (
    flow_id      TEXT NOT NULL,
    error_id     TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    retried_at   TEXT NOT NULL,
    PRIMARY KEY (flow_id, error_id, execution_id)
)
""")


class RetryLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with connect_db(self.path) as db:
            for statement in SCHEMA:
                db.execute(statement)

    def claim_number(self, flow_id: str, message_id: str) -> int:
        """The next retry number of this message, taken in one write transaction (two requests
        at once get two numbers)."""
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            [number] = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM retry_numbers "
                                  "WHERE flow_id = ? AND message_id = ?", (flow_id, message_id)).fetchone()
            db.execute("INSERT INTO retry_numbers (flow_id, message_id, number) VALUES (?, ?, ?)",
                       (flow_id, message_id, number))
        return int(number)

    def record(self, flow_id: str, error_ids: list[str], execution_id: str) -> None:
        with connect_db(self.path) as db:
            db.executemany("INSERT OR IGNORE INTO error_retries (flow_id, error_id, execution_id, retried_at) "
                           "VALUES (?, ?, ?, ?)", [(flow_id, error_id, execution_id, utc_now())
                                                   for error_id in error_ids])

    def retries_of(self, flow_id: str, error_ids: list[str]) -> dict[str, list[str]]:
        """error id -> the executions that retried it, oldest first (ids with none are left out)."""
        found: dict[str, list[str]] = {}
        with connect_db(self.path) as db:
            for start in range(0, len(error_ids), 500):
                chunk = error_ids[start:start + 500]
                rows = db.execute(f"SELECT error_id, execution_id FROM error_retries WHERE flow_id = ? AND "
                                  f"error_id IN ({', '.join('?' * len(chunk))}) ORDER BY rowid",
                                  (flow_id, *chunk)).fetchall()
                for row in rows:
                    found.setdefault(row["error_id"], []).append(row["execution_id"])
        return found
