"""The flow store's drafts and publishing (api/store.py), and what a publish that switches a flow
between ordinary and real-time does to whether it takes messages (api/flow_states.py): fast, on a
real SQLite file."""

from pathlib import Path
from typing import Literal

import pytest

from api.flow_states import FlowRunState, FlowStates
from api.store import FlowStore
from flows.model import Flow, Step, Trigger

FlowType = Literal["ordinary", "realtime"]


def a_flow(expression: str, flow_type: FlowType = "ordinary") -> Flow:
    return Flow(id="orders", name="Orders", type=flow_type,
                trigger=Trigger(id="hook", component="webhook", function="receive"),
                steps=[Step(id="shape", component="transform", function="transform",
                            config={"expression": expression})])


@pytest.fixture
def store(tmp_path: Path) -> FlowStore:
    return FlowStore(tmp_path / "conflux.db")


def test_a_draft_is_saved_replaced_and_deleted_without_a_version(store: FlowStore) -> None:
    first = store.save_draft(a_flow("a"))
    assert first.created and first.draft.flow.version == 1, "the version a publish would give it"
    again = store.save_draft(a_flow("b"))
    assert not again.created, "the flow exists (as a draft)"
    draft = store.draft("orders")
    assert draft is not None and draft.revision == a_flow("b").revision()
    assert store.latest("orders") is None and store.list_latest() == []
    assert [d.flow.id for d in store.list_drafts()] == ["orders"]
    assert store.delete_draft("orders") and not store.delete_draft("orders")
    assert store.draft("orders") is None


def test_publish_makes_the_draft_the_next_version_and_removes_it(store: FlowStore) -> None:
    assert store.publish_draft("orders") is None, "nothing to publish"
    store.save(a_flow("a"))
    store.save_draft(a_flow("b"))
    outcome = store.publish_draft("orders")
    assert outcome is not None and outcome.changed and not outcome.created
    assert outcome.stored.version == 2 and outcome.previous is not None and outcome.previous.version == 1
    assert store.draft("orders") is None
    latest = store.latest("orders")
    assert latest is not None and latest.revision == a_flow("b").revision()


def test_publishing_identical_content_stores_nothing_but_removes_the_draft(store: FlowStore) -> None:
    store.save(a_flow("a"))
    store.save_draft(a_flow("a"))
    outcome = store.publish_draft("orders")
    assert outcome is not None and not outcome.changed and outcome.stored.version == 1
    assert store.draft("orders") is None and len(store.versions("orders")) == 1


def test_a_rollback_stores_the_earlier_content_as_a_new_version(store: FlowStore) -> None:
    store.save(a_flow("a"))
    store.save(a_flow("b"))
    store.save_draft(a_flow("c"))
    outcome = store.republish("orders", 1)
    assert outcome is not None and outcome.changed and outcome.stored.version == 3
    assert outcome.stored.revision == a_flow("a").revision() and outcome.stored.flow.version == 3
    assert store.draft("orders") is not None, "the draft is kept"
    assert store.republish("orders", 9) is None
    same = store.republish("orders", 3)
    assert same is not None and not same.changed, "already the active content"


@pytest.mark.parametrize(("before", "previous_type", "after"), [
    (None, "ordinary", "running"),        # an ordinary flow never stopped took messages: the real-time one runs
    ("running", "ordinary", "running"),
    ("stopped", "ordinary", "stopped"),   # a stopped flow stays stopped
    (None, "realtime", "stopped"),        # a real-time flow never started took none: neither does the ordinary one
    ("running", "realtime", "running"),
    ("stopped", "realtime", "stopped"),
])
def test_a_switch_of_type_keeps_whether_the_flow_takes_messages(
        tmp_path: Path, before: FlowRunState | None, previous_type: FlowType, after: FlowRunState) -> None:
    store, states = FlowStore(tmp_path / "c.db"), FlowStates(tmp_path / "c.db")
    store.save(a_flow("a", previous_type))
    if before is not None:
        states.set("orders", before)
    other_type: FlowType = "realtime" if previous_type == "ordinary" else "ordinary"
    store.save(a_flow("a", other_type), on_new_version=states.carry_over)
    assert states.get("orders") == after


def test_a_publish_of_the_same_type_leaves_the_state_alone(tmp_path: Path) -> None:
    store, states = FlowStore(tmp_path / "c.db"), FlowStates(tmp_path / "c.db")
    store.save(a_flow("a", "realtime"))
    store.save(a_flow("b", "realtime"), on_new_version=states.carry_over)
    assert states.get("orders") is None
