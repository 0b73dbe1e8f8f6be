"""Values kept sealed in a table of the platform's database: the secrets (api/secret_store.py) and the
credentials (conflux/credential_store.py) store them the same way, so they rotate the same way.

A row keeps the key id and the sealed blob (base64 text). Each value is sealed with associated
data naming what it belongs to (e.g. ``credential:<id>``): a blob copied onto another row, or into
another table, does not decrypt.
"""

import base64
import sqlite3
from collections.abc import Callable

from conflux.keys import KeyRing, Sealed


def seal(keys: KeyRing, plaintext: bytes, associated: bytes) -> tuple[str, str]:
    """The key id and the sealed blob as text, ready for a row."""
    sealed = keys.encrypt(plaintext, associated)
    return sealed.key_id, base64.b64encode(sealed.blob).decode()


def unseal(keys: KeyRing, key_id: str, text: str, associated: bytes) -> bytes:
    return keys.decrypt(Sealed(key_id, base64.b64decode(text)), associated)


def reseal_table(db: sqlite3.Connection, keys: KeyRing, table: str, id_column: str,
                 associated: Callable[[str], bytes]) -> int:
    """Within the caller's write transaction: every row of ``table`` sealed under another key than the
    active one is sealed again under it; how many were. Its columns: ``id_column``, key_id, sealed."""
    moved = 0
    rows = db.execute(f"SELECT {id_column} AS row_id, key_id, sealed FROM {table} WHERE key_id != ?",
                      (keys.active_id,)).fetchall()
    for row in rows:
        bound = associated(row["row_id"])
        key_id, text = seal(keys, unseal(keys, row["key_id"], row["sealed"], bound), bound)
        db.execute(f"UPDATE {table} SET key_id = ?, sealed = ? WHERE {id_column} = ?", (key_id, text, row["row_id"]))
        moved += 1
    return moved
