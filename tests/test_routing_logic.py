"""FlowRun's routers and aggregates on a real Temporal server with the step activities mocked
(tests/mock_activities.py): branches chosen, rejoined and ended, batches that a router splits, the
parts of a split gathered for their aggregate step (in batches, across child runs, nested, through a
router). The mock router and splitter emit the metadata the real components emit."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from flows.model import Flow
from steps.protocol import Message
from tests.flow_helpers import run_flow
from tests.mock_activities import MockSteps, connect_client, mock_worker
from workflows.flow_walk import LEAF_MESSAGES
from workflows.models import FlowRunResult

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
async def client(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    yield await connect_client(temporal_address, tmp_path_factory.mktemp("blobs"))


def routed_flow(steps: list[dict[str, Any]], **extra: Any) -> Flow:
    return Flow.model_validate({"id": "routing", "name": "Routing", **extra, "steps": steps,
                                "trigger": {"id": "hook", "component": "signed-webhook", "function": "receive"}})


def step(step_id: str, component: str = "mock", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "component": component, "function": "run", **extra}


def router_by(choose: Any) -> Any:
    """A mock router: emits the body once per branch ``choose(body)`` names (as the real one does)."""
    return lambda message, attempt: [Message(body=message.body, metadata={"branch": branch})
                                     for branch in choose(message.body)]


def splitter_of(field: str | None = None) -> Any:
    """A mock splitter: one part per element, with the real splitter's ``split`` metadata."""
    def split(message: Message, attempt: int) -> list[Any]:
        items = message.body[field] if field else message.body
        return [Message(body=item, metadata={"split": {"group": message.id, "index": index, "count": len(items)}})
                for index, item in enumerate(items)]
    return split


def records_of(result: FlowRunResult, step_id: str) -> list[Any]:
    return [record for record in result.records if record.step_id == step_id]


async def summaries(client: Client, workflow_id: str) -> list[str]:
    """The activity summaries of a run, as the Temporal UI lists them."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and event.user_metadata.HasField("summary"):
            [text] = await client.data_converter.decode([event.user_metadata.summary], [str])
            found.append(text)
    return found


# --- routers ---------------------------------------------------------------------------------------------

ORDER_ROUTER = step("route", "router", branches=[
    {"id": "big", "when": "total > 100", "steps": [step("approve")]},
    {"id": "eu", "when": "region = 'eu'", "steps": [step("vat")], "then": "end"},
], default={"steps": [step("auto")], "then": "end"})


@pytest.mark.parametrize(("body", "path", "branch"), [
    ({"total": 500, "region": "us"}, ["hook", "route", "approve", "notify"], "route/big"),
    ({"total": 5, "region": "eu"}, ["hook", "route", "vat"], "route/eu"),
    ({"total": 5, "region": "us"}, ["hook", "route", "auto"], "route/default"),
])
async def test_a_router_sends_a_message_down_the_first_branch_that_holds_else_the_default(
        client: Client, body: dict[str, Any], path: list[str], branch: str) -> None:
    def first(body: dict[str, Any]) -> list[str]:
        return ["big"] if body["total"] > 100 else ["eu"] if body["region"] == "eu" else ["default"]

    steps = MockSteps({"route": router_by(first)})
    flow = routed_flow([ORDER_ROUTER, step("notify")])
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, body)
    assert result.status == "completed"
    assert [call.step_id for call in steps.calls] == path
    assert result.totals.delivered == 1 and result.outputs == [body]
    [routed] = records_of(result, "route")
    assert routed.routes == [branch.split("/")[1]] and routed.branch is None
    [in_branch] = records_of(result, path[2])
    assert in_branch.branch == branch
    assert f"{path[2]} · mock/run · branch {branch}" in await summaries(client, workflow_id)


async def test_without_a_default_a_message_no_branch_takes_goes_on_past_the_router(client: Client) -> None:
    steps = MockSteps({"route": router_by(lambda body: ["default"])})
    flow = routed_flow([step("route", "router", branches=[{"id": "big", "when": "total > 100",
                                                           "steps": [step("approve")]}]), step("notify")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"total": 1})
    assert [call.step_id for call in steps.calls] == ["hook", "route", "notify"]
    assert result.totals.delivered == 1


async def test_mode_all_sends_a_message_down_every_branch_and_both_rejoin(client: Client) -> None:
    steps = MockSteps({"route": router_by(lambda body: ["crm", "mail"]),
                       "crm": lambda message, attempt: [{"to": "crm"}],
                       "mail": lambda message, attempt: [{"to": "mail"}]})
    flow = routed_flow([step("route", "router", config={"mode": "all"}, branches=[
        {"id": "crm", "when": "true", "steps": [step("crm")]},
        {"id": "mail", "when": "email", "steps": [step("mail")]}]), step("log")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"email": "a@b"})
    assert sorted(call.body["to"] for call in steps.calls_to("log")) == ["crm", "mail"]
    assert records_of(result, "route")[0].routes == ["crm", "mail"]
    assert result.totals.delivered == 2


async def test_a_batch_that_a_router_splits_goes_on_as_one_batch_per_branch(client: Client) -> None:
    steps = MockSteps({"fan": lambda message, attempt: [{"n": n} for n in range(6)],
                       "route": router_by(lambda body: ["low"] if body["n"] < 3 else ["high"])})
    flow = routed_flow([step("fan"), step("route", "router", branches=[
        {"id": "low", "when": "n < 3", "steps": [step("low")]},
        {"id": "high", "when": "n >= 3", "steps": [step("high")], "then": "end"}]), step("last")],
        concurrency=1)
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert sorted(call.body["n"] for call in steps.calls_to("low")) == [0, 1, 2]
    assert sorted(call.body["n"] for call in steps.calls_to("high")) == [3, 4, 5]
    assert sorted(call.body["n"] for call in steps.calls_to("last")) == [0, 1, 2]
    assert steps.batch_sizes("route") == [6] and steps.batch_sizes("high") == [3] and steps.batch_sizes("low") == [3]
    assert result.totals.delivered == 6 and result.totals.step_runs == 1 + 1 + 6 + 6 + 3
    assert {record.branch for record in records_of(result, "high")} == {"route/high"}


async def test_a_branchs_messages_go_on_as_any_fan_out_does(client: Client) -> None:
    """Not one batch per branch: the router runs two batches ([0, 1, 2], [3, 4, 5]); the first sends
    0 alone down "one" (the one-message path) and 1, 2 down "many", spread over both slots; the second
    sends all three down "many" as a batch."""
    steps = MockSteps({"fan": lambda message, attempt: [{"n": n} for n in range(6)],
                       "route": router_by(lambda body: ["one"] if body["n"] == 0 else ["many"])})
    flow = routed_flow([step("fan"), step("route", "router", branches=[
        {"id": "one", "when": "n = 0", "steps": [step("one")]},
        {"id": "many", "when": "n > 0", "steps": [step("many")]}])], concurrency=2)
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert [(call.body, call.batch) for call in steps.calls_to("one")] == [({"n": 0}, None)]
    assert steps.batch_sizes("route") == [3, 3] and steps.batch_sizes("many") == [3, 1, 1]
    assert result.totals.delivered == 6


async def test_a_branch_with_no_steps_that_ends_delivers_the_message_as_the_router_received_it(
        client: Client) -> None:
    steps = MockSteps({"route": router_by(lambda body: ["stop"] if body["stop"] else ["default"])})
    flow = routed_flow([step("route", "router", branches=[{"id": "stop", "when": "stop", "then": "end"}]),
                        step("last")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"stop": True})
    assert [call.step_id for call in steps.calls] == ["hook", "route"]
    assert result.status == "completed" and result.totals.delivered == 1 and result.totals.filtered == 0
    assert result.outputs == [{"stop": True}]


async def test_a_router_inside_a_branch_rejoins_its_own_branch(client: Client) -> None:
    steps = MockSteps({"outer": router_by(lambda body: ["a"]), "inner": router_by(lambda body: ["x"])})
    flow = routed_flow([step("outer", "router", branches=[{"id": "a", "when": "true", "steps": [
        step("inner", "router", branches=[{"id": "x", "when": "true", "steps": [step("in-x")]}]),
        step("after-inner")]}]), step("last")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert [call.step_id for call in steps.calls] == ["hook", "outer", "inner", "in-x", "after-inner", "last"]
    assert [(r.step_id, r.branch) for r in result.records][2:] == [
        ("inner", "outer/a"), ("in-x", "inner/x"), ("after-inner", "outer/a"), ("last", None)]


# --- aggregates ------------------------------------------------------------------------------------------

async def test_split_then_aggregate_gives_one_message_with_the_parts_in_split_order(client: Client) -> None:
    """The even parts take a branch with a step, the odd ones skip ahead (a branch of no steps is no
    activity), so the odd parts reach the aggregate first: [1, 3, 0, 4] (2 is dropped on the way)."""
    seen: list[Message] = []

    def aggregate(message: Message, attempt: int) -> list[Any]:
        seen.append(message)
        return [message.body]

    steps = MockSteps({"split": splitter_of("items"),
                       "route": router_by(lambda n: ["even"] if n % 2 == 0 else ["default"]),
                       "double": lambda message, attempt: [] if message.body == 2 else [message.body * 10],
                       "join": aggregate})
    flow = routed_flow([step("split", "splitter"), step("route", "router", branches=[
        {"id": "even", "when": "$ % 2 = 0", "steps": [step("double")]}]), step("join", "aggregate"), step("after")],
        concurrency=1)
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, {"items": [0, 1, 2, 3, 4]})
    assert result.status == "completed"
    [gathered] = seen
    assert gathered.body == [0, 1, 3, 40], "every part that reached the aggregate, in split order"
    message_id = workflow_id.split(":", 1)[1]
    assert gathered.id == message_id and gathered.metadata["aggregated"] == {
        "group": message_id, "count": 5, "received": 4}
    assert [call.body for call in steps.calls_to("after")] == [[0, 1, 3, 40]]
    assert result.totals.delivered == 1 and result.totals.filtered == 1


async def test_a_split_inside_a_branch_between_split_and_aggregate_keeps_the_outer_split_order(
        client: Client) -> None:
    """The inner splitter has no aggregate of its own and overwrites ``metadata.split``; the outer
    aggregate still orders by the outer split, then the inner one, and counts the outer split's parts."""
    seen: list[Message] = []

    def aggregate(message: Message, attempt: int) -> list[Any]:
        seen.append(message)
        return [message.body]

    steps = MockSteps({"orders": splitter_of("orders"), "route": router_by(lambda body: ["many"]),
                       "lines": splitter_of("lines"), "join": aggregate})
    flow = routed_flow([step("orders", "splitter"), step("route", "router", branches=[
        {"id": "many", "when": "true", "steps": [step("lines", "splitter")]}]), step("join", "aggregate")])
    body = {"orders": [{"lines": ["0.0", "0.1"]}, {"lines": ["1.0", "1.1"]}]}
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, body)
    assert result.status == "completed"
    [gathered] = seen
    message_id = workflow_id.split(":", 1)[1]
    assert gathered.body == ["0.0", "0.1", "1.0", "1.1"]
    assert gathered.metadata["aggregated"] == {"group": message_id, "count": 2, "received": 4}


async def test_an_aggregate_waits_for_the_parts_in_child_runs(client: Client) -> None:
    count = LEAF_MESSAGES + 150
    steps = MockSteps({"split": splitter_of("items")})
    flow = routed_flow([step("split", "splitter"), step("mark"), step("join", "aggregate")], concurrency=2)
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, {"items": list(range(count))})
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    children = [event for event in history.events
                if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED]
    assert len(children) >= 2, "the parts went to child runs"
    [joined] = steps.calls_to("join")
    assert joined.body == list(range(count)) and joined.batch is None
    assert result.totals.delivered == 1 and result.outputs == [list(range(count))]
    handed_back = [part for child in await child_results(client, history) for part in child.gathered]
    assert len(handed_back) == count
    assert all(part.passthrough == {} and part.passthroughHeaders is None and part.headers == {}
               for part in handed_back), "not each part's copy of the whole split input"


async def child_results(client: Client, history: WorkflowHistory) -> list[FlowRunResult]:
    results = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.child_workflow_execution_completed_event_attributes.result.payloads
            results += await client.data_converter.decode(payloads, [FlowRunResult])
    return results


async def test_nested_splits_each_gather_at_their_own_aggregate(client: Client) -> None:
    steps = MockSteps({"orders": splitter_of("orders"), "lines": splitter_of("lines")})
    flow = routed_flow([step("orders", "splitter"), step("lines", "splitter"), step("price"),
                        step("order-total", "aggregate"), step("all-orders", "aggregate")])
    body = {"orders": [{"lines": [1, 2]}, {"lines": [3]}, {"lines": [4, 5, 6]}]}
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, body)
    assert sorted(call.body for call in steps.calls_to("order-total")) == [[1, 2], [3], [4, 5, 6]]
    assert [call.body for call in steps.calls_to("all-orders")] == [[[1, 2], [3], [4, 5, 6]]]
    assert result.outputs == [[[1, 2], [3], [4, 5, 6]]]


async def test_parts_a_router_sends_down_a_rejoining_branch_reach_the_aggregate(client: Client) -> None:
    steps = MockSteps({"split": splitter_of(), "route": router_by(lambda n: ["even"] if n % 2 == 0 else ["odd"]),
                       "even": lambda message, attempt: [{"even": message.body}]})
    flow = routed_flow([step("split", "splitter"), step("route", "router", branches=[
        {"id": "even", "when": "$ % 2 = 0", "steps": [step("even")]},
        {"id": "odd", "when": "$ % 2 = 1", "steps": [step("odd")], "then": "end"}]), step("join", "aggregate")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, [0, 1, 2, 3, 4])
    assert [call.body for call in steps.calls_to("join")] == [[{"even": 0}, {"even": 2}, {"even": 4}]]
    assert sorted(call.body for call in steps.calls_to("odd")) == [1, 3]
    assert result.totals.delivered == 1 + 2  # the gathered message, and the two odd parts at their branch's end


async def test_a_split_into_one_part_is_aggregated_alone(client: Client) -> None:
    steps = MockSteps({"split": splitter_of("items")})
    flow = routed_flow([step("split", "splitter"), step("join", "aggregate")])
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"items": ["only"]})
    assert [call.body for call in steps.calls_to("join")] == [["only"]]
    assert result.outputs == [["only"]]
