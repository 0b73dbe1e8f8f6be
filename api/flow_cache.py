"""What every accepted message asks of the database (the flow's latest version, whether it runs,
and for a flow without a version whether it has a draft), answered from memory.

Intake is the API's hot path: reading and validating a flow definition per request, in a thread,
cost more than the rest of the request. Each API process keeps what it read, and one counter row
tells it when to forget: triggers bump ``flow_generation`` in the same transaction as any change
to ``flow_versions``, ``flow_states`` or ``flow_drafts``, whichever process writes, so a new
version, a publish or a stop made through another API process is seen by the very next request.
The counter is read on one long-lived connection, on the event loop, without a thread hop (a read
of one row in WAL mode does not wait for writers).
"""

import sqlite3
import threading

from api.flow_states import FlowRunState, FlowStates
from api.secret_store import SecretStore
from api.store import BUSY_TIMEOUT_SECONDS, FlowStore, StoredFlow, connect_db
from api.tokens import TokenInfo, TokenStore, token_hash

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
MAX_ENTRIES = 10_000  # requests for made-up flow ids must not grow it without end


class FlowCache:
    """``latest``, ``has_draft`` and ``state`` as FlowStore and FlowStates answer them, read once per change."""

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
        self._latest: dict[str, StoredFlow | None] = {}
        self._state: dict[str, FlowRunState | None] = {}
        self._has_draft: dict[str, bool] = {}
        self._secret: dict[str, str | None] = {}
        self._token: dict[str, TokenInfo | None] = {}  # by the token's hash

    def latest(self, flow_id: str) -> StoredFlow | None:
        self._revalidate()
        if flow_id not in self._latest:
            self._latest[flow_id] = self._store.latest(flow_id)
        return self._latest[flow_id]

    def has_draft(self, flow_id: str) -> bool:
        self._revalidate()
        if flow_id not in self._has_draft:
            self._has_draft[flow_id] = self._store.has_draft(flow_id)
        return self._has_draft[flow_id]

    def state(self, flow_id: str) -> FlowRunState | None:
        self._revalidate()
        if flow_id not in self._state:
            self._state[flow_id] = self._states.get(flow_id)
        return self._state[flow_id]

    def secret(self, name: str) -> str | None:
        """A stored secret's value (webhook authentication checks it on every request)."""
        self._revalidate()
        if name not in self._secret:
            self._secret[name] = self._secrets.value(name)
        return self._secret[name]

    def token(self, token: str) -> TokenInfo | None:
        """An API token's scopes and state (the management API checks one on every request)."""
        self._revalidate()
        key = token_hash(token)
        if key not in self._token:
            self._token[key] = self._tokens.find(token)
        return self._token[key]

    def _revalidate(self) -> None:
        with self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self._store.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                           check_same_thread=False)
            generation = self._db.execute("SELECT generation FROM flow_generation").fetchone()[0]
            cached = len(self._latest) + len(self._state) + len(self._has_draft) + len(self._secret) + len(self._token)
            if generation != self._generation or cached > MAX_ENTRIES:
                self._latest.clear()
                self._state.clear()
                self._has_draft.clear()
                self._secret.clear()
                self._token.clear()
                self._generation = generation
