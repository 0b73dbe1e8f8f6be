"""Routers and aggregates in the flow model, its validation and its plan (flows/plan.py): pure, no
Temporal, no Docker (the catalog is read from the component folders)."""

from typing import Any

import pytest

from catalog.components import load_catalog
from conflux.flow_runs import steps_markdown
from flows.aggregate_window import collector_id
from flows.aggregation import gathered_part, group_message, window_message
from flows.loader import read_definition
from flows.model import Flow
from flows.plan import plan_flow
from flows.router_config import step_config
from flows.validation import FlowInvalid, parse_flow
from steps.protocol import Message
from tests.conftest import REPO_ROOT

CATALOG = load_catalog()
EXAMPLES = REPO_ROOT / "examples" / "flows"


def definition(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "routes", "name": "Routes", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": steps, **extra}


def code(step_id: str) -> dict[str, Any]:
    return {"id": step_id, "component": "code", "function": "run", "config": {"code": "return msg['body']"}}


def router(branches: list[dict[str, Any]], step_id: str = "route", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "component": "router", "function": "route", "branches": branches, **extra}


SPLIT = {"id": "split", "component": "splitter", "function": "split", "config": {"path": "items"}}
JOIN = {"id": "join", "component": "aggregate", "function": "aggregate"}
WINDOW = {**JOIN, "config": {"mode": "window", "key": "orderId", "window": 10}}


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(data, CATALOG)
    return {problem.where: problem.problem for problem in invalid.value.problems}


# --- the model and validation ----------------------------------------------------------------------------

def test_a_router_flow_validates_and_every_branch_step_gets_its_image() -> None:
    flow = parse_flow(definition([router([{"id": "big", "when": "total > 100", "steps": [code("approve")]}],
                                         default={"steps": [code("auto")], "then": "end"}), code("notify")]), CATALOG)
    assert [step.id for step in flow.every_step] == ["hook", "route", "approve", "auto", "notify"]
    assert all(step.image == CATALOG[step.component].image for step in flow.every_step)


def test_flows_without_routers_keep_their_revision() -> None:
    """The new optional fields must not change what existing definitions hash to: these are the
    examples' revisions as main computed them before routers existed."""
    before = {"orders.yaml": "b75fda9b97c1", "order-lines.yaml": "d330a3aca2ea", "new-records.yaml": "9d84a8dc4975"}
    for name, revision in before.items():
        flow = Flow.model_validate(read_definition(EXAMPLES / name, {"DEMO_URL": "x"}))
        assert flow.revision() == revision, name


def test_step_ids_must_be_unique_across_branches() -> None:
    problems = problems_of(definition([router([{"id": "a", "when": "x", "steps": [code("notify")]}]), code("notify")]))
    assert "step id 'notify' is used twice" in problems["steps"]


def test_branch_ids_must_be_unique_within_a_router() -> None:
    problems = problems_of(definition([router([{"id": "a", "when": "x"}, {"id": "a", "when": "y"}])]))
    assert any("branch id 'a' is used twice in router 'route'" in text for text in problems.values())


def test_a_branch_may_not_be_called_default() -> None:
    problems = problems_of(definition([router([{"id": "default", "when": "x"}])]))
    assert any("names a router's default branch" in text for text in problems.values())


def test_a_router_without_branches_is_refused() -> None:
    problems = problems_of(definition([{"id": "route", "component": "router", "function": "route"}]))
    assert "a router needs 'branches'" in problems["steps[0] (route).branches"]


def test_branches_on_a_step_that_is_not_a_router_are_refused() -> None:
    step = {**code("c"), "branches": [{"id": "a", "when": "true"}]}
    problems = problems_of(definition([step]))
    assert "only router steps" in problems["steps[0] (c).branches"]


def test_unreachable_branches_are_reported_with_where_they_are() -> None:
    problems = problems_of(definition([router([
        {"id": "all", "when": "true", "steps": [code("a")]},
        {"id": "later", "when": "total > 1"},
    ], default={"steps": [code("b")]}), router([
        {"id": "never", "when": "false"},
        {"id": "big", "when": "total > 1"},
        {"id": "again", "when": " total > 1 "},
        {"id": "broken", "when": "total >"},
    ], step_id="second")]))
    assert "branch 'all' before it takes every message" in problems["steps[0] (route).branches[1] (later)"]
    assert "branch 'all' takes every message" in problems["steps[0] (route).default"]
    assert "never true" in problems["steps[1] (second).branches[0] (never)"]
    assert "branch 'big' before it has the same condition" in problems["steps[1] (second).branches[2] (again)"]
    assert "does not parse" in problems["steps[1] (second).branches[3] (broken).when"]
    assert len(problems) == 5


def test_in_mode_all_a_branch_after_one_that_always_holds_is_reachable() -> None:
    parse_flow(definition([router([{"id": "log", "when": "true"}, {"id": "big", "when": "total > 1"}],
                                  config={"mode": "all"})]), CATALOG)


def test_a_bad_mode_is_refused() -> None:
    problems = problems_of(definition([router([{"id": "a", "when": "x"}], config={"mode": "some"})]))
    assert "'first' or 'all'" in problems["steps[0] (route).config.mode"]


def test_steps_after_a_router_whose_every_way_ends_are_unreachable() -> None:
    problems = problems_of(definition([router([{"id": "a", "when": "x", "then": "end"}],
                                              default={"then": "end"}), code("never")]))
    assert "every branch of router 'route' and its default end the flow" in problems["steps[1] (never)"]


def test_problems_of_a_step_inside_a_branch_say_where_it_is() -> None:
    problems = problems_of(definition([router([{"id": "a", "when": "x", "steps": [
        {"id": "t", "component": "transform", "function": "transform"}]}])]))
    assert "required field 'expression'" in problems["steps[0] (route).branches[0] (a).steps[0] (t).config.expression"]


def test_an_aggregate_without_a_splitter_before_it_in_its_line_is_refused() -> None:
    alone = problems_of(definition([JOIN]))
    assert "put a splitter before it" in alone["steps[0] (join)"]
    in_branch = problems_of(definition([SPLIT, router([{"id": "a", "when": "x", "steps": [JOIN]}])]))
    assert "put a splitter before it" in in_branch["steps[1] (route).branches[0] (a).steps[0] (join)"]
    twice = problems_of(definition([SPLIT, JOIN, {**JOIN, "id": "join-2"}]))
    assert list(twice) == ["steps[2] (join-2)"]


def test_a_realtime_flow_refuses_routers_and_aggregates() -> None:
    problems = problems_of(definition([SPLIT, router([{"id": "a", "when": "x"}]), JOIN], type="realtime"))
    assert "a real-time flow runs no 'router' steps" in problems["steps[1] (route)"]
    assert "a real-time flow runs no 'aggregate' steps" in problems["steps[2] (join)"]


def test_a_window_aggregate_needs_no_splitter_and_validates_its_settings() -> None:
    assert parse_flow(definition([code("a"), WINDOW]), CATALOG).steps[1].config["mode"] == "window"
    problems = problems_of(definition([
        {**JOIN, "config": {"mode": "window", "key": "orderId ((", "window": 0, "max_messages": 0}},
        {**JOIN, "id": "join-2", "config": {"mode": "windows"}},
        {**JOIN, "id": "join-3", "config": {"mode": "window", "window": "10s"}},
    ]))
    assert "does not parse" in problems["steps[0] (join).config.key"]
    assert "a number above 0 (not 0)" in problems["steps[0] (join).config.window"]
    assert "at least 1 (not 0)" in problems["steps[0] (join).config.max_messages"]
    assert "'split' (the parts of one split, the default) or 'window'" in problems["steps[1] (join-2).config.mode"]
    assert "put a splitter before it" in problems["steps[1] (join-2)"]  # an unknown mode is no window
    assert "needs 'key'" in problems["steps[2] (join-3).config.key"]
    assert "(not '10s')" in problems["steps[2] (join-3).config.window"]


def test_a_realtime_flow_refuses_window_aggregates_too() -> None:
    problems = problems_of(definition([WINDOW], type="realtime"))
    assert "a real-time flow runs no 'aggregate' steps" in problems["steps[0] (join)"]


# --- the plan --------------------------------------------------------------------------------------------

def test_a_routers_ways_are_its_branches_then_its_default() -> None:
    [with_default, without] = Flow.model_validate(definition([
        router([{"id": "a", "when": "x"}, {"id": "b", "when": "y"}], default={"id": "rest"}),
        router([{"id": "c", "when": "z"}], step_id="other")])).steps
    assert [way.id for way in with_default.ways()] == ["a", "b", "rest"]
    assert [way.id for way in without.ways()] == ["c"]
    assert Flow.model_validate(definition([code("plain")])).steps[0].ways() == []


def test_the_plan_of_a_flow_without_routers_is_its_steps_in_order() -> None:
    plan = plan_flow(Flow.model_validate(definition([code("a"), code("b")])))
    assert [step.id for step in plan.steps] == ["hook", "a", "b"]
    assert plan.after == [1, 2, 3] and plan.end == 3 and plan.gathers == {}


def test_the_plan_puts_branches_after_the_main_line_and_rejoins_after_the_router() -> None:
    flow = Flow.model_validate(definition([router([
        {"id": "big", "when": "x", "steps": [code("approve"), code("sign")]},
        {"id": "eu", "when": "y", "then": "end", "steps": [code("vat")]},
        {"id": "skip", "when": "z"},
    ], default={"steps": [code("auto")], "then": "end"}), code("notify")]))
    plan = plan_flow(flow)
    assert [step.id for step in plan.steps] == ["hook", "route", "notify", "approve", "sign", "vat", "auto"]
    index = {step.id: i for i, step in enumerate(plan.steps)}
    assert plan.after[index["approve"]] == index["sign"] and plan.after[index["sign"]] == index["notify"]
    assert plan.after[index["vat"]] == plan.end and plan.after[index["auto"]] == plan.end
    assert plan.lane(index["sign"]) == "route/big" and plan.lane(index["notify"]) is None
    outputs = [Message(id=f"m-{n}", metadata={"branch": branch})
               for n, branch in enumerate(["big", "skip", "default", "big", "unknown"])]
    routes = plan.routes(index["route"], outputs)
    assert [(target, [m.id for m in messages]) for target, messages in routes] == [
        (index["approve"], ["m-0", "m-3"]), (index["notify"], ["m-1"]), (index["auto"], ["m-2", "m-4"])]


def test_the_plan_pairs_each_aggregate_with_its_splitter_as_brackets() -> None:
    inner = {**SPLIT, "id": "inner"}
    plan = plan_flow(Flow.model_validate(definition([SPLIT, inner, code("c"), JOIN, {**JOIN, "id": "outer"}])))
    assert plan.gathers == {2: 4, 1: 5} and plan.unmatched_aggregates == []


def test_a_window_aggregate_pairs_with_no_splitter() -> None:
    plan = plan_flow(Flow.model_validate(definition([SPLIT, WINDOW, {**JOIN, "id": "outer"}])))
    assert plan.gathers == {1: 3} and plan.unmatched_aggregates == []


def test_a_window_message_is_the_first_message_with_every_body_in_arrival_order() -> None:
    first = Message(id="m1", body={"n": 1}, passthrough={"hook": {"n": 1}}, query={"a": "b"})
    grouped = window_message([first, Message(id="m2", body={"n": 2})], "A", "aggregate:f/join/x", "join")
    assert grouped.id == "m1-join" and grouped.body == [{"n": 1}, {"n": 2}] and grouped.query == {"a": "b"}
    assert grouped.metadata == {"aggregated": {"key": "A", "window": "aggregate:f/join/x", "count": 2, "received": 2}}


def test_equal_keys_share_a_collector_and_others_do_not() -> None:
    assert collector_id("f", "join", {"a": 1, "b": 2}) == collector_id("f", "join", {"b": 2, "a": 1})
    assert collector_id("f", "join", 1) != collector_id("f", "join", "1") != collector_id("f", "join-2", "1")
    assert collector_id("f", "join", "x" * 10_000).startswith("aggregate:f/join/")
    assert len(collector_id("f", "join", "x" * 10_000)) == len("aggregate:f/join/") + 16


def test_a_router_component_gets_its_branch_conditions_in_its_config() -> None:
    flow = Flow.model_validate(definition([router([{"id": "big", "when": "total > 1"}], config={"mode": "all"},
                                                  default={"id": "rest"})]))
    assert step_config(flow.steps[0]) == {"mode": "all", "branches": [{"id": "big", "when": "total > 1"}],
                                          "default": "rest"}


def test_a_group_message_is_the_split_message_with_the_parts_in_split_order() -> None:
    entered = Message(id="m", body={"items": [1, 2, 3]}, metadata={"keep": 1}, passthrough={"hook": {}})
    parts = [Message(id=f"m-{index}", body=index, metadata={"split": {"group": "m", "index": index, "count": 3}})
             for index in (2, 0)]
    grouped = group_message(entered, parts)
    assert grouped.body == [0, 2] and grouped.id == "m" and grouped.passthrough == {"hook": {}}
    assert grouped.metadata == {"keep": 1, "aggregated": {"group": "m", "count": 3, "received": 2}}


def test_parts_are_ordered_by_their_ids_after_the_split_messages_however_deep_later_fan_outs_went() -> None:
    """A splitter in a branch (no aggregate of its own) overwrites ``metadata.split``: its index and
    count are not the outer split's; and ``m-0-1-0`` comes before ``m-0-10``."""
    def part(part_id: str) -> Message:
        inner = part_id.rsplit("-", 1)[0]
        return Message(id=part_id, body=part_id, metadata={"split": {"group": inner, "index": int(part_id[-1]),
                                                                     "count": 2}})
    ids = ["m-1-1", "m-0-10", "m-1-0", "m-0-1-0", "m-0-2", "m-10"]
    grouped = group_message(Message(id="m"), [part(part_id) for part_id in ids], count=11)
    assert grouped.body == ["m-0-1-0", "m-0-2", "m-0-10", "m-1-0", "m-1-1", "m-10"]
    assert grouped.metadata["aggregated"] == {"group": "m", "count": 11, "received": 6}


def test_without_the_workflows_count_it_is_the_count_of_the_parts_of_this_split() -> None:
    outer = Message(id="m-1", body="outer", metadata={"split": {"group": "m", "index": 1, "count": 3}})
    inner = Message(id="m-0-0", body="inner", metadata={"split": {"group": "m-0", "index": 0, "count": 5}})
    assert group_message(Message(id="m"), [inner, outer]).metadata["aggregated"] == {
        "group": "m", "count": 3, "received": 2}
    # a retry from a step between split and aggregate enters with one part, which names its split
    assert group_message(outer, [outer]).metadata["aggregated"] == {"group": "m", "count": 3, "received": 1}


def test_a_part_handed_back_by_a_child_run_keeps_only_what_the_aggregate_reads() -> None:
    part = Message(id="m-3", body=3, metadata={"split": {"group": "m", "index": 3, "count": 4}},
                   passthrough={"hook": {"items": [0, 1, 2, 3]}}, headers={"a": "b"}, url="http://x/")
    assert gathered_part(part) == Message(id="m-3", body=3, metadata=part.metadata)


def test_the_temporal_ui_details_list_each_routers_branches() -> None:
    flow = Flow.model_validate(definition([router([{"id": "big", "when": "total > 100", "steps": [code("approve")]}],
                                                  default={"then": "end"}), code("notify")]))
    details = steps_markdown(flow).splitlines()
    assert details[-5:] == [
        "2. `route`: router/route",
        "   - branch `big` (when `total > 100`), then the step after the router:",
        "     - `approve`: code/run",
        "   - branch `default` (otherwise), then the flow ends:",
        "3. `notify`: code/run",
    ]
