"""Flow definitions in SQLite. Every change of content is a new version; the latest is "the flow"
(its active version). Beside the versions, at most one draft per flow: edited freely, never run,
and made the next version by a publish (in the same transaction that removes it).

The API is synchronous on purpose: callers run it in a thread (``asyncio.to_thread``), and each
call opens its own connection, so no connection is ever shared between threads. WAL lets
readers go on while a writer commits.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from conflux.database import Connection, connect_db, utc_now
from flows.model import Flow

SCHEMA = """
CREATE TABLE IF NOT EXISTS flow_versions (
    flow_id    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    revision   TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (flow_id, version)
);
CREATE TABLE IF NOT EXISTS flow_drafts (
    flow_id    TEXT PRIMARY KEY,
    revision   TEXT NOT NULL,
    definition TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
"""
COLUMNS = "flow_id, version, revision, definition, created_at"
DRAFT_COLUMNS = "flow_id, revision, definition, saved_at"
LATEST = f"SELECT {COLUMNS} FROM flow_versions WHERE flow_id = ? ORDER BY version DESC LIMIT 1"
VERSION = f"SELECT {COLUMNS} FROM flow_versions WHERE flow_id = ? AND version = ?"
DRAFT = f"SELECT {DRAFT_COLUMNS} FROM flow_drafts WHERE flow_id = ?"


class FlowExists(Exception):
    """A create (POST) named a flow id that is already taken."""

    def __init__(self, flow_id: str) -> None:
        super().__init__(flow_id)
        self.flow_id = flow_id


@dataclass(frozen=True)
class StoredFlow:
    """One stored version; ``flow.version`` is the store's number, whatever the caller sent."""

    flow: Flow
    revision: str
    created_at: str

    @property
    def version(self) -> int:
        return self.flow.version


@dataclass(frozen=True)
class SaveOutcome:
    stored: StoredFlow
    created: bool  # this was the flow's first version
    changed: bool  # a new version was written (False: same content as the latest, nothing stored)
    previous: StoredFlow | None = None  # the active version before this save (None: there was none)


@dataclass(frozen=True)
class StoredDraft:
    """A flow's draft; ``flow.version`` is the number a publish would give it at the time it was saved."""

    flow: Flow
    revision: str
    saved_at: str


@dataclass(frozen=True)
class DraftSaved:
    draft: StoredDraft
    created: bool  # the flow did not exist before (no version, no draft)


NewVersionHook = Callable[[sqlite3.Connection, StoredFlow | None, StoredFlow], None]
"""Called inside the transaction that stores a new active version, with the one it replaces: what
must change together with the version (e.g. whether the flow takes messages) changes atomically."""


class FlowStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def save(self, flow: Flow, *, create_only: bool = False,
             on_new_version: NewVersionHook | None = None) -> SaveOutcome:
        """Store ``flow`` as the next version unless its content equals the latest version's.

        ``create_only`` refuses an id that exists (FlowExists). The read and the insert share one
        write transaction, so two concurrent saves cannot take the same version number.
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if create_only and _first(db.execute(LATEST, (flow.id,)), _stored) is not None:
                raise FlowExists(flow.id)
            return _save_in(db, flow, on_new_version)

    def publish_draft(self, flow_id: str, on_new_version: NewVersionHook | None = None) -> SaveOutcome | None:
        """The draft becomes the next version (nothing new when it equals the active one) and is
        removed either way; None when the flow has no draft."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            draft = _first(db.execute(DRAFT, (flow_id,)), _draft)
            if draft is None:
                return None
            db.execute("DELETE FROM flow_drafts WHERE flow_id = ?", (flow_id,))
            return _save_in(db, draft.flow, on_new_version)

    def republish(self, flow_id: str, version: int, on_new_version: NewVersionHook | None = None) -> SaveOutcome | None:
        """A rollback: ``version``'s content stored as the next version (history is never rewritten);
        None when there is no such version. The draft, if any, is left as it is."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            earlier = _first(db.execute(VERSION, (flow_id, version)), _stored)
            return _save_in(db, earlier.flow, on_new_version) if earlier is not None else None

    def save_changed(self, flow_id: str, change: Callable[[Flow], Flow],
                     on_new_version: NewVersionHook | None = None) -> SaveOutcome | None:
        """The latest version as ``change`` makes it, stored as the next version (nothing new when it
        comes out the same); read and write in one transaction, so a save in between is never undone.
        None when the flow has no version."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            latest = _first(db.execute(LATEST, (flow_id,)), _stored)
            return _save_in(db, change(latest.flow), on_new_version) if latest is not None else None

    def save_draft(self, flow: Flow) -> DraftSaved:
        """Create or replace the flow's draft."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            latest = _first(db.execute(LATEST, (flow.id,)), _stored)
            had_draft = db.execute("SELECT 1 FROM flow_drafts WHERE flow_id = ?", (flow.id,)).fetchone() is not None
            draft = StoredDraft(flow=flow.model_copy(update={"version": latest.version + 1 if latest else 1}),
                                revision=flow.revision(), saved_at=utc_now())
            db.execute(f"INSERT OR REPLACE INTO flow_drafts ({DRAFT_COLUMNS}) VALUES (?, ?, ?, ?)",
                       (flow.id, draft.revision, draft.flow.model_dump_json(), draft.saved_at))
            return DraftSaved(draft=draft, created=latest is None and not had_draft)

    def draft(self, flow_id: str) -> StoredDraft | None:
        return _first(self._query(DRAFT, (flow_id,)), _draft)

    def delete_draft(self, flow_id: str) -> bool:
        """False when there was no draft."""
        with self._connect() as db:
            return db.execute("DELETE FROM flow_drafts WHERE flow_id = ?", (flow_id,)).rowcount > 0

    def has_draft(self, flow_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM flow_drafts WHERE flow_id = ?", (flow_id,)))

    def list_drafts(self) -> list[StoredDraft]:
        """Every draft, by flow id."""
        return [_draft(row) for row in self._query(f"SELECT {DRAFT_COLUMNS} FROM flow_drafts ORDER BY flow_id")]

    def latest(self, flow_id: str) -> StoredFlow | None:
        return _first(self._query(LATEST, (flow_id,)), _stored)

    def get(self, flow_id: str, version: int) -> StoredFlow | None:
        return _first(self._query(VERSION, (flow_id, version)), _stored)

    def versions(self, flow_id: str) -> list[StoredFlow]:
        """Every version of one flow, oldest first; empty for an unknown id."""
        return [_stored(row) for row in self._query(
            f"SELECT {COLUMNS} FROM flow_versions WHERE flow_id = ? ORDER BY version", (flow_id,))]

    def list_latest(self) -> list[StoredFlow]:
        """The latest version of every flow, by id."""
        return [_stored(row) for row in self._query(
            f"SELECT {COLUMNS} FROM flow_versions AS v WHERE version = "
            "(SELECT MAX(version) FROM flow_versions WHERE flow_id = v.flow_id) ORDER BY flow_id")]

    def ping(self) -> None:
        """Raises sqlite3.Error when the database cannot be read."""
        self._query("SELECT COUNT(*) FROM flow_versions")

    def _query(self, sql: str, parameters: tuple = ()) -> list[sqlite3.Row]:
        with self._connect() as db:
            return db.execute(sql, parameters).fetchall()

    def _connect(self) -> Connection:
        return connect_db(self.path)


def _save_in(db: sqlite3.Connection, flow: Flow, on_new_version: NewVersionHook | None) -> SaveOutcome:
    """Within the caller's write transaction: ``flow`` as the next version, unless it equals the latest."""
    revision = flow.revision()
    latest = _first(db.execute(LATEST, (flow.id,)), _stored)
    if latest is not None and latest.revision == revision:
        return SaveOutcome(stored=latest, created=False, changed=False, previous=latest)
    versioned = flow.model_copy(update={"version": latest.version + 1 if latest else 1})
    stored = StoredFlow(flow=versioned, revision=revision, created_at=utc_now())
    db.execute(f"INSERT INTO flow_versions ({COLUMNS}) VALUES (?, ?, ?, ?, ?)",
               (flow.id, versioned.version, revision, versioned.model_dump_json(), stored.created_at))
    if on_new_version is not None:
        on_new_version(db, latest, stored)
    return SaveOutcome(stored=stored, created=latest is None, changed=True, previous=latest)


R = TypeVar("R")


def _first(rows: "sqlite3.Cursor | list[sqlite3.Row]", make: Callable[[sqlite3.Row], R]) -> R | None:
    row = next(iter(rows), None)
    return make(row) if row is not None else None


def _stored(row: sqlite3.Row) -> StoredFlow:
    return StoredFlow(flow=Flow.model_validate_json(row["definition"]), revision=row["revision"],
                      created_at=row["created_at"])


def _draft(row: sqlite3.Row) -> StoredDraft:
    return StoredDraft(flow=Flow.model_validate_json(row["definition"]), revision=row["revision"],
                       saved_at=row["saved_at"])
