"""Secrets (a webhook's password, key or signing key) in the API's database, encrypted at rest.

Each value is sealed with the key ring's active key (conflux/keys.py, AES-GCM) with the secret's
name as associated data, so a sealed value copied onto another name does not decrypt. Values are
never returned by the API; flows name a secret, and only the API process that checks a request
decrypts it. ``reencrypt`` seals every value again under the active key: the step of a key
rotation after which the old key can go (docs/security.md).
"""

from dataclasses import dataclass
from pathlib import Path

from conflux.database import connect_db, utc_now
from conflux.keys import KeyRing
from conflux.sealed_rows import reseal_table, seal, unseal

SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: never its value."""

    name: str
    key_id: str
    updated_at: str


class SecretStore:
    def __init__(self, path: Path, keys: KeyRing) -> None:
        self.path = Path(path)
        self.keys = keys
        with connect_db(self.path) as db:
            db.execute(SCHEMA)

    def put(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Store (or replace) a value; True when the name is new."""
        key_id, sealed = seal(self.keys, value.encode(), name.encode())
        info = SecretInfo(name=name, key_id=key_id, updated_at=utc_now())
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            existed = db.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone() is not None
            db.execute("INSERT INTO secrets (name, key_id, sealed, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
                       "DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, "
                       "updated_at = excluded.updated_at", (name, info.key_id, sealed, info.updated_at))
        return info, not existed

    def exists(self, name: str) -> bool:
        with connect_db(self.path) as db:
            return db.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone() is not None

    def value(self, name: str) -> str | None:
        """The plaintext, for checking a request; None when there is no such secret."""
        with connect_db(self.path) as db:
            row = db.execute("SELECT key_id, sealed FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return unseal(self.keys, row["key_id"], row["sealed"], name.encode()).decode()

    def list(self) -> list[SecretInfo]:
        with connect_db(self.path) as db:
            rows = db.execute("SELECT name, key_id, updated_at FROM secrets ORDER BY name").fetchall()
        return [SecretInfo(name=row["name"], key_id=row["key_id"], updated_at=row["updated_at"]) for row in rows]

    def delete(self, name: str) -> bool:
        with connect_db(self.path) as db:
            return db.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount > 0

    def reencrypt(self) -> int:
        """Seal every value under the active key; how many were sealed under another one."""
        with connect_db(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            return reseal_table(db, self.keys, "secrets", "name", str.encode)
