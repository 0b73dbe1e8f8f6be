"""The platform's SQLite database (``CONFLUX_DB_PATH``): how every table in it is opened.

The API owns most tables; the worker reads and updates the credentials (conflux/credential_store.py)
in the same file, so the connection lives here, below both.
"""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 10.0


def connect_db(path: Path) -> "Connection":
    """A connection for one unit of work; every table of the database goes through it."""
    return Connection(path)


class Connection:
    """A connection in autocommit mode: an explicit BEGIN is committed on a clean exit and rolled
    back on an exception, and the connection is always closed (sqlite3's own context manager
    does not close)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes, and fast

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, kind: type | None, *_: object) -> None:
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.db.close()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
