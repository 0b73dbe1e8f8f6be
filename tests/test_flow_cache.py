"""The API's in-memory answers about flows (api/flow_cache.py) follow changes made through any
process: two caches on one database stand for two API processes."""

from pathlib import Path

from api.flow_cache import FlowCache
from api.flow_states import FlowStates
from api.secret_store import SecretStore
from api.store import FlowStore
from api.tokens import TokenStore
from conflux.keys import KeyRing, load_key_ring, new_key_line
from flows.model import Flow, Step, Trigger

KEYS = load_key_ring(new_key_line(), Path("/nonexistent"))


def cache(db: Path, keys: KeyRing = KEYS) -> FlowCache:
    return FlowCache(FlowStore(db), FlowStates(db), SecretStore(db, keys), TokenStore(db))


def a_flow(expression: str) -> Flow:
    return Flow(id="orders", name="Orders", trigger=Trigger(id="hook", component="webhook", function="receive"),
                steps=[Step(id="shape", component="transform", function="transform",
                            config={"expression": expression})])


def test_a_new_version_and_a_stop_written_elsewhere_are_seen_by_the_next_lookup(tmp_path: Path) -> None:
    db = tmp_path / "conflux.db"
    there_store = FlowStore(db)
    here = cache(db)
    there_states = FlowStates(db)
    assert here.latest("orders") is None and here.state("orders") is None
    there_store.save(a_flow("a"))
    stored = here.latest("orders")
    assert stored is not None and stored.version == 1
    assert here.latest("orders") is stored, "answered from memory while nothing changed"
    there_states.set("orders", "running")
    assert here.state("orders") == "running"
    there_states.set("orders", "stopped")
    assert here.state("orders") == "stopped", "a stop through another process refuses the very next message"
    there_store.save(a_flow("b"))
    newer = here.latest("orders")
    assert newer is not None and newer.version == 2


def test_a_draft_and_its_publish_written_elsewhere_are_seen_by_the_next_lookup(tmp_path: Path) -> None:
    """A draft makes no flow exist for intake (no latest version), only tells why; its publish
    through another process is the flow's version at the very next request."""
    db = tmp_path / "conflux.db"
    there = FlowStore(db)
    here = cache(db)
    assert here.latest("orders") is None and not here.has_draft("orders")
    there.save_draft(a_flow("a"))
    assert here.latest("orders") is None and here.has_draft("orders")
    there.publish_draft("orders")
    published = here.latest("orders")
    assert published is not None and published.version == 1 and not here.has_draft("orders")
    there.save_draft(a_flow("b"))
    there.republish("orders", 1)
    assert here.has_draft("orders"), "a rollback keeps the draft"
    there.delete_draft("orders")
    assert not here.has_draft("orders")


def test_a_secret_changed_elsewhere_is_seen_by_the_next_lookup(tmp_path: Path) -> None:
    db = tmp_path / "conflux.db"
    here, there = cache(db), SecretStore(db, KEYS)
    assert here.secret("hook-key") is None
    there.put("hook-key", "one")
    assert here.secret("hook-key") == "one"
    there.put("hook-key", "two")
    assert here.secret("hook-key") == "two"
    there.delete("hook-key")
    assert here.secret("hook-key") is None


def test_a_token_revoked_elsewhere_is_refused_at_the_next_lookup(tmp_path: Path) -> None:
    db = tmp_path / "conflux.db"
    here, there = cache(db), TokenStore(db)
    info, token = there.create("ci", ["read"])
    found = here.token(token)
    assert found is not None and found.revoked_at is None
    there.revoke(info.id)
    revoked = here.token(token)
    assert revoked is not None and revoked.revoked_at is not None
