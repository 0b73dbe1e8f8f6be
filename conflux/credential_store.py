"""Credentials in the platform's database, encrypted at rest: the fields a component's descriptor
declares (``credentials.fields``), for the steps that name the credential by id.

Both processes open this store over the same SQLite file (``CONFLUX_DB_PATH``): the API creates,
replaces, lists and deletes credentials; the worker decrypts one inside a step's activity, right
before the container gets it, and writes back what the component refreshed (``updateKeys``). So a
credential's fields never travel through Temporal: a step carries only the id.

The fields (a JSON object) are sealed with the key ring's active key (conflux/keys.py), with
``credential:<id>`` as associated data (conflux/sealed_rows.py). ``reencrypt`` seals every row
again under the active key: the step of a key rotation after which the old key can go.
"""

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from conflux.database import connect_db, utc_now
from conflux.keys import KeyRing
from conflux.sealed_rows import reseal_table, seal, unseal

SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    id         TEXT PRIMARY KEY,
    component  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""
INFO_COLUMNS = "id, component, key_id, created_at, updated_at"


class CredentialExists(Exception):
    """A create named an id that is taken."""


class CredentialMissing(LookupError):
    """No credential has this id (deleted since a flow named it, or never stored)."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(f"there is no credential '{credential_id}' (deleted?); store it with POST /credentials, "
                         "GET /credentials lists them")
        self.credential_id = credential_id


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown of a credential: never its fields."""

    id: str
    component: str
    key_id: str
    created_at: str
    updated_at: str


class SealedFields(BaseModel):
    """A credential's fields sealed for ``credential_id``: what the API hands the worker to verify
    before anything is stored, and what it stores once verified."""

    credential_id: str
    key_id: str
    sealed: str


def associated(credential_id: str) -> bytes:
    return f"credential:{credential_id}".encode()


class CredentialStore:
    def __init__(self, path: Path, keys: KeyRing) -> None:
        self.path = Path(path)
        self.keys = keys
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with connect_db(self.path) as db:
            db.execute("PRAGMA journal_mode=WAL")  # the worker may open the file before the API does
            db.execute(SCHEMA)

    def seal(self, credential_id: str, fields: dict[str, Any]) -> SealedFields:
        key_id, sealed = seal(self.keys, json.dumps(fields).encode(), associated(credential_id))
        return SealedFields(credential_id=credential_id, key_id=key_id, sealed=sealed)

    def open_sealed(self, sealed: SealedFields) -> dict[str, Any]:
        fields: dict[str, Any] = json.loads(unseal(self.keys, sealed.key_id, sealed.sealed,
                                                   associated(sealed.credential_id)))
        return fields

    def create(self, component: str, sealed: SealedFields) -> CredentialInfo:
        """Store a new credential (CredentialExists when the id is taken)."""
        now = utc_now()
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM credentials WHERE id = ?", (sealed.credential_id,)).fetchone():
                raise CredentialExists(sealed.credential_id)
            db.execute("INSERT INTO credentials (id, component, key_id, sealed, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (sealed.credential_id, component, sealed.key_id, sealed.sealed, now, now))
        return CredentialInfo(id=sealed.credential_id, component=component, key_id=sealed.key_id, created_at=now,
                              updated_at=now)

    def replace(self, sealed: SealedFields) -> CredentialInfo:
        """New fields for a stored credential (CredentialMissing when there is none)."""
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            self._write(db, sealed)
        return self._info_or_raise(sealed.credential_id)

    def update_fields(self, credential_id: str, changes: dict[str, Any]) -> CredentialInfo:
        """Merge what a component refreshed (``updateKeys``) into the stored fields, sealed again under
        the active key; read and write in one transaction, so two steps refreshing at once both count."""
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            fields = self._fields_in(db, credential_id)
            self._write(db, self.seal(credential_id, {**fields, **changes}))
        return self._info_or_raise(credential_id)

    def fields(self, credential_id: str) -> dict[str, Any]:
        """The plaintext fields, for a step's container (CredentialMissing when there is none)."""
        with connect_db(self.path) as db:
            return self._fields_in(db, credential_id)

    def info(self, credential_id: str) -> CredentialInfo | None:
        with connect_db(self.path) as db:
            row = db.execute(f"SELECT {INFO_COLUMNS} FROM credentials WHERE id = ?", (credential_id,)).fetchone()
        return _info(row) if row is not None else None

    def list(self) -> list[CredentialInfo]:
        with connect_db(self.path) as db:
            rows = db.execute(f"SELECT {INFO_COLUMNS} FROM credentials ORDER BY id").fetchall()
        return [_info(row) for row in rows]

    def components(self) -> dict[str, str]:
        """Credential id -> its component: what a flow's validation checks steps against."""
        return {info.id: info.component for info in self.list()}

    def delete(self, credential_id: str) -> bool:
        with connect_db(self.path) as db:
            return db.execute("DELETE FROM credentials WHERE id = ?", (credential_id,)).rowcount > 0

    def reencrypt(self) -> int:
        """Seal every credential under the active key; how many were sealed under another one."""
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            return reseal_table(db, self.keys, "credentials", "id", associated)

    def _fields_in(self, db: sqlite3.Connection, credential_id: str) -> dict[str, Any]:
        row = db.execute("SELECT key_id, sealed FROM credentials WHERE id = ?", (credential_id,)).fetchone()
        if row is None:
            raise CredentialMissing(credential_id)
        return self.open_sealed(SealedFields(credential_id=credential_id, key_id=row["key_id"], sealed=row["sealed"]))

    @staticmethod
    def _write(db: sqlite3.Connection, sealed: SealedFields) -> None:
        updated = db.execute("UPDATE credentials SET key_id = ?, sealed = ?, updated_at = ? WHERE id = ?",
                             (sealed.key_id, sealed.sealed, utc_now(), sealed.credential_id))
        if updated.rowcount == 0:
            raise CredentialMissing(sealed.credential_id)

    def _info_or_raise(self, credential_id: str) -> CredentialInfo:
        info = self.info(credential_id)
        if info is None:
            raise CredentialMissing(credential_id)
        return info


def _info(row: sqlite3.Row) -> CredentialInfo:
    return CredentialInfo(id=row["id"], component=row["component"], key_id=row["key_id"],
                          created_at=row["created_at"], updated_at=row["updated_at"])


def laid_over(config: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """What a container gets as ``cfg``: the step's config with the credential's fields over it. A
    name in both is the credential's, so a definition cannot stand in for what its owner stored."""
    return {**config, **fields}
