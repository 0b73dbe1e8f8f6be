"""What every request asks of the database, answered from memory: for an accepted message the
flow's latest version, whether it runs, whether it has a draft, its webhook's secret; for a
management request its API token.

Intake is the API's hot path: reading and validating a flow definition per request, in a thread,
cost more than the rest of the request. Each API process keeps what it read, and one counter row
tells it when to forget: triggers bump ``flow_generation`` in the same transaction as any change
to any of the tables in ``WATCHED``, whichever process writes, so a new version, a publish, a
stop, a new secret or a revoked token made through another API process is seen by the very next
request.
The counter is read on one long-lived connection, on the event loop, without a thread hop (a read
of one row in WAL mode does not wait for writers).
"""

import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from api.flow_states import FlowRunState, FlowStates
from api.secret_store import SecretStore
from api.store import FlowStore, StoredFlow, connect_db
from api.tokens import TokenInfo, TokenStore, token_hash
from conflux.database import BUSY_TIMEOUT_SECONDS

# Any change to what intake reads bumps the counter, in the writer's own transaction.
WATCHED = {"flow_versions": ("INSERT", "UPDATE", "DELETE"), "flow_states": ("INSERT", "UPDATE"),
           "flow_drafts": ("INSERT", "UPDATE", "DELETE"), "secrets": ("INSERT", "UPDATE", "DELETE"),
           "api_tokens": ("INSERT", "UPDATE", "DELETE")}
PAST = {"INSERT": "inserted", "UPDATE": "updated", "DELETE": "deleted"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS flow_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT OR IGNORE INTO flow_generation (id, generation) VALUES (1, 0);
""" + "".join(f"CREATE TRIGGER IF NOT EXISTS {table}_{PAST[event]} AFTER {event} ON {table}\n"
              "    BEGIN UPDATE flow_generation SET generation = generation + 1; END;\n"
              for table, events in WATCHED.items() for event in events)
T = TypeVar("T")
MAX_ENTRIES = 10_000  # requests for made-up flow ids must not grow it without end


class FlowCache:
    """What FlowStore, FlowStates, the secrets and the tokens answer, each read once per change."""

    def __init__(self, store: FlowStore, states: FlowStates, secrets: SecretStore, tokens: TokenStore) -> None:
        self._store = store
        self._states = states
        self._secrets = secrets
        self._tokens = tokens
        with connect_db(store.path) as db:  # sqlite3's own context manager would leave it open
            db.executescript(SCHEMA)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._generation = -1
        self._answers: dict[tuple[str, str], Any] = {}  # (what was asked, of what) -> the answer

    def latest(self, flow_id: str) -> StoredFlow | None:
        return self._cached("latest", flow_id, self._store.latest)

    def has_draft(self, flow_id: str) -> bool:
        return self._cached("has_draft", flow_id, self._store.has_draft)

    def state(self, flow_id: str) -> FlowRunState | None:
        return self._cached("state", flow_id, self._states.get)

    def secret(self, name: str) -> str | None:
        """A stored secret's value (webhook authentication checks it on every request)."""
        return self._cached("secret", name, self._secrets.value)

    def token(self, token: str) -> TokenInfo | None:
        """An API token's scopes and state (the management API checks one on every request); kept
        by the token's hash, never the token."""
        return self._cached("token", token_hash(token), lambda _: self._tokens.find(token))

    def _cached(self, kind: str, key: str, load: Callable[[str], T]) -> T:
        self._revalidate()
        if (kind, key) not in self._answers:
            self._answers[(kind, key)] = load(key)
        answer: T = self._answers[(kind, key)]
        return answer

    def _revalidate(self) -> None:
        with self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self._store.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                           check_same_thread=False)
            generation = self._db.execute("SELECT generation FROM flow_generation").fetchone()[0]
            if generation != self._generation or len(self._answers) > MAX_ENTRIES:
                self._answers.clear()
                self._generation = generation
