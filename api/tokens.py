"""API tokens: bearer tokens with scopes, stored hashed in the API's database.

A token is ``cfx_<id>_<secret>``: the id names it in lists and revocations, the secret is 32 random
bytes, and only the token's SHA-256 is stored, so the database cannot give a token back. Scopes
nest: ``read`` (GET), ``write`` (changing flows, sending messages, start/stop, retries) includes
read, ``admin`` (tokens and secrets) includes both. A revoked token stays listed, refused.

``python -m api.tokens create --name NAME --scopes read,write`` creates one on the API's database
directly (the first admin token cannot come from the API); the local stack does that and prints it.
"""

import argparse
import hashlib
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from api.store import connect_db, utc_now

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
PREFIX = "cfx_"
SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: str
    revoked_at: str | None = None

    def allows(self, needed: Scope) -> bool:
        """Scopes nest: admin ⊃ write ⊃ read."""
        return self.revoked_at is None and max(SCOPES.index(s) for s in self.scopes) >= SCOPES.index(needed)


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with connect_db(self.path) as db:
            db.execute(SCHEMA)

    def create(self, name: str, scopes: list[Scope]) -> tuple[TokenInfo, str]:
        """The new token's info and the token itself: shown this once, never stored."""
        token_id = secrets.token_hex(4)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(id=token_id, name=name, scopes=tuple(dict.fromkeys(scopes)), created_at=utc_now())
        with connect_db(self.path) as db:
            db.execute("INSERT INTO api_tokens (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
                       (info.id, info.name, token_hash(token), ",".join(info.scopes), info.created_at))
        return info, token

    def find(self, token: str) -> TokenInfo | None:
        """The token's info (revoked ones too: the caller tells them apart); None when unknown."""
        with connect_db(self.path) as db:
            row = db.execute("SELECT * FROM api_tokens WHERE hash = ?", (token_hash(token),)).fetchone()
        return _info(row) if row is not None else None

    def list(self) -> list[TokenInfo]:
        with connect_db(self.path) as db:
            return [_info(row) for row in db.execute("SELECT * FROM api_tokens ORDER BY created_at, id").fetchall()]

    def revoke(self, token_id: str) -> TokenInfo | None:
        with connect_db(self.path) as db:
            db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (utc_now(), token_id))
            row = db.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        return _info(row) if row is not None else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> list[Scope]:
    scopes = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        raise ValueError(f"scopes are {', '.join(SCOPES)} (comma-separated); got {text!r}")
    return [scope for scope in SCOPES if scope in scopes]


def _info(row: sqlite3.Row) -> TokenInfo:
    scopes = tuple(scope for scope in SCOPES if scope in row["scopes"].split(","))
    return TokenInfo(id=row["id"], name=row["name"], scopes=scopes, created_at=row["created_at"],
                     revoked_at=row["revoked_at"])


def main(argv: list[str] | None = None) -> int:
    from api.settings import ApiSettings

    parser = argparse.ArgumentParser(prog="python -m api.tokens", description="API tokens on the API's database "
                                     "(CONFLUX_DB_PATH)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", default="read,write", help="read, write, admin (comma-separated)")
    commands.add_parser("list", help="list tokens (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    args = parser.parse_args(argv)
    store = TokenStore(ApiSettings().db_path)
    if args.command == "create":
        try:
            scopes = parse_scopes(args.scopes)
        except ValueError as exc:
            parser.error(str(exc))
        _, token = store.create(args.name, scopes)
        print(token)
    elif args.command == "list":
        for info in store.list():
            state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
            print(f"{info.id}  {info.name}  {','.join(info.scopes)}  {info.created_at}  {state}")
    elif store.revoke(args.token_id) is None:
        print(f"there is no token '{args.token_id}' (python -m api.tokens list)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
