"""FlowRun's routing on a real Temporal server with the step activities mocked (tests/mock_activities.py):
the one-message path, fan-out batches, child branches, rebounds in batches, failures, filtering and
the report's caps. No containers: each test takes a second or less."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from flows.model import Trigger
from steps.protocol import Message
from tests.flow_helpers import run_flow
from tests.mock_activities import Crash, Fail, MockSteps, Rebound, connect_client, eventually, make_flow, mock_worker
from workflows.flow_run import FlowRunWorkflow
from workflows.flow_walk import BATCH_SIZE, LEAF_MESSAGES, MAX_CHILDREN, batch_size, branch_size
from workflows.models import FlowRunInput, FlowRunResult
from workflows.run_report import MAX_FAILURES, MAX_OUTPUTS, MAX_RECORDS
from workflows.search import FAILED_STEP, FLOW_ID, flow_search_attributes

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
async def client(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    yield await connect_client(temporal_address, tmp_path_factory.mktemp("blobs"))


def numbered(count: int) -> Any:
    """A handler that emits ``count`` messages ``{"n": 0..count-1}``."""
    return lambda message, attempt: [{"n": n} for n in range(count)]


def append_step(step_id: str) -> Any:
    """A handler that adds its step id to the body's path."""
    return lambda message, attempt: [{"path": [*message.body.get("path", []), step_id]}]


async def failed_report(client: Client, workflow_id: str) -> tuple[ApplicationError, FlowRunResult]:
    """The FlowRunFailed error of a failed run and the report in its details."""
    with pytest.raises(WorkflowFailureError) as raised:
        await client.get_workflow_handle(workflow_id).result()
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "FlowRunFailed", raised.value
    return cause, FlowRunResult.model_validate(cause.details[0])


async def child_ids(client: Client, workflow_id: str) -> list[str]:
    """The workflow ids of the children a run started, in the order it started them."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [event.start_child_workflow_execution_initiated_event_attributes.workflow_id for event in history.events
            if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED]


# --- the one-message path -------------------------------------------------------------------------------

async def test_one_message_goes_through_every_step_in_order_with_the_output_chained(client: Client) -> None:
    steps = MockSteps({step_id: append_step(step_id) for step_id in ("hook", "a", "b", "c")})
    flow = make_flow("a", "b", "c")
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, {"path": []})
    assert result.status == "completed"
    assert [(call.step_id, call.body, call.batch) for call in steps.calls] == [
        ("hook", {"path": []}, None),
        ("a", {"path": ["hook"]}, None),
        ("b", {"path": ["hook", "a"]}, None),
        ("c", {"path": ["hook", "a", "b"]}, None),
    ]
    assert result.outputs == [{"path": ["hook", "a", "b", "c"]}]
    assert result.totals.model_dump() == {"delivered": 1, "filtered": 0, "failed": 0, "step_runs": 4}
    assert [(r.step_id, r.status, r.emitted, r.input, r.output) for r in result.records] == [
        ("hook", "ok", 1, {"path": []}, {"path": ["hook"]}),
        ("a", "ok", 1, {"path": ["hook"]}, {"path": ["hook", "a"]}),
        ("b", "ok", 1, {"path": ["hook", "a"]}, {"path": ["hook", "a", "b"]}),
        ("c", "ok", 1, {"path": ["hook", "a", "b"]}, {"path": ["hook", "a", "b", "c"]}),
    ]
    assert {r.message_id for r in result.records} == {workflow_id.split(":", 1)[1]}
    assert steps.batches == []


async def test_the_builtin_webhook_trigger_runs_in_the_workflow_and_the_request_reaches_the_last_step(
        client: Client) -> None:
    seen: list[Message] = []

    def remember(message: Message, attempt: int) -> list[Any]:
        seen.append(message)
        return [{"step": len(seen)}]

    steps = MockSteps({"a": remember, "b": remember})
    flow = make_flow("a", "b", trigger=Trigger(id="hook", component="webhook", function="receive"))
    request = Message(id="m1", body={"order": 7}, headers={"x-shop": "north"}, method="PUT",
                      url="http://conflux/hooks/logic/orders?src=x", query={"src": "x"}, path="orders")
    async with mock_worker(client, steps) as queue:
        handle = await client.start_workflow(FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id="m1",
                                             message=request), id=f"logic:{uuid.uuid4().hex}", task_queue=queue)
        result = await handle.result()
    assert [call.step_id for call in steps.calls] == ["a", "b"], "no activity for the built-in trigger"
    wrapped = {"body": {"order": 7}, "headers": {"x-shop": "north"}, "method": "PUT",
               "url": "http://conflux/hooks/logic/orders?src=x", "query": {"src": "x"}, "path": "orders"}
    assert seen[0].body == wrapped
    last = seen[-1]
    assert (last.method, last.url, last.query, last.path, last.headers) == (
        "PUT", "http://conflux/hooks/logic/orders?src=x", {"src": "x"}, "orders", {"x-shop": "north"})
    assert last.passthrough["hook"] == wrapped
    assert [(r.step_id, r.status, r.input, r.output) for r in result.records][0] == (
        "hook", "ok", {"order": 7}, wrapped)
    assert result.totals.step_runs == 3


async def test_progress_query_shows_the_steps_done_so_far(client: Client) -> None:
    release = asyncio.Event()

    async def slow(message: Message, attempt: int) -> list[Any]:
        await release.wait()
        return [message.body]

    steps = MockSteps({"b": slow})
    flow = make_flow("a", "b")
    async with mock_worker(client, steps) as queue:
        handle = await client.start_workflow(
            FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id="p1", message=Message(id="p1", body={"x": 1})),
            id=f"logic:{uuid.uuid4().hex}", task_queue=queue, search_attributes=flow_search_attributes(flow))
        progress = await eventually(lambda: handle.query(FlowRunWorkflow.progress),
                                    lambda p: [r.step_id for r in p.records] == ["hook", "a"], what="hook and a done")
        assert progress.status == "running" and progress.totals.delivered == 0
        release.set()
        result = await handle.result()
    assert result.status == "completed" and result.totals.delivered == 1


async def test_a_step_that_emits_nothing_ends_the_path_as_filtered(client: Client) -> None:
    steps = MockSteps({"gate": lambda message, attempt: []})
    flow = make_flow("gate", "after")
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"keep": False})
    assert result.status == "completed"
    assert result.totals.model_dump() == {"delivered": 0, "filtered": 1, "failed": 0, "step_runs": 2}
    assert result.outputs == [] and steps.calls_to("after") == []
    assert result.records[-1].step_id == "gate" and result.records[-1].emitted == 0


async def test_a_failed_step_records_its_input_and_fails_the_run_with_the_report(client: Client) -> None:
    def refuse(message: Message, attempt: int) -> list[Any]:
        raise Fail("no such customer")

    steps = MockSteps({"a": append_step("a"), "b": refuse})
    flow = make_flow("a", "b", "c")
    async with mock_worker(client, steps) as queue:
        workflow_id, _ = await run_flow(client, queue, flow, {"path": []})
        error, report = await failed_report(client, workflow_id)
        description = await client.get_workflow_handle(workflow_id).describe()
    assert "1 message(s) failed; first at step 'b'" in str(error) and "no such customer" in str(error)
    assert report.status == "failed"
    assert report.totals.model_dump() == {"delivered": 0, "filtered": 0, "failed": 1, "step_runs": 3}
    [failure] = report.failures
    assert (failure.step_id, failure.status, failure.error_type) == ("b", "failed", "StepError")
    assert failure.input == {"path": ["a"]}  # what the step received
    assert "no such customer" in (failure.error or "")
    assert [(r.step_id, r.status) for r in report.records] == [("hook", "ok"), ("a", "ok"), ("b", "failed")]
    assert steps.calls_to("c") == [] and len(steps.calls_to("b")) == 1  # an error is not retried
    assert description.typed_search_attributes.get(FAILED_STEP) == ["b"]
    assert description.typed_search_attributes.get(FLOW_ID) == flow.id


async def test_a_rebounding_step_is_retried_on_the_one_message_path(client: Client) -> None:
    def flaky(message: Message, attempt: int) -> list[Any]:
        if attempt < 3:
            raise Rebound("target busy")
        return [message.body]

    steps = MockSteps({"a": flaky})
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, make_flow("a", "b"), {"x": 1})
    assert result.status == "completed" and result.totals.delivered == 1
    assert [call.attempt for call in steps.calls_to("a")] == [1, 2, 3]
    assert result.totals.step_runs == 3  # attempts are Temporal's retries of one step run


# --- fan-out in batches ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("concurrency", "sizes"), [
    (10, [25] * 10),            # 250 over 10 slots
    (3, [84, 84, 82]),          # ceil(250 / 3)
    (2, [100, 100, 50]),        # at most BATCH_SIZE a container
    (1, [100, 100, 50]),
])
async def test_a_fan_out_goes_on_in_batches_spread_over_the_slots(client: Client, concurrency: int,
                                                                  sizes: list[int]) -> None:
    assert batch_size(250, concurrency) == sizes[0]
    steps = MockSteps({"split": numbered(250), "double": lambda m, a: [{"n": m.body["n"] * 2}]})
    flow = make_flow("split", "double", "last", concurrency=concurrency)
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert steps.batch_sizes("double") == sizes
    assert steps.batch_sizes("last") == sizes
    assert [call.batch for call in steps.calls_to("split")] == [None]
    # every message reaches each later step exactly once, with the output of the one before
    assert sorted(call.body["n"] for call in steps.calls_to("double")) == list(range(250))
    assert sorted(call.body["n"] for call in steps.calls_to("last")) == [2 * n for n in range(250)]
    assert len({call.message_id for call in steps.calls_to("last")}) == 250
    assert result.status == "completed"
    assert result.totals.model_dump() == {"delivered": 250, "filtered": 0, "failed": 0, "step_runs": 2 + 2 * 250}
    assert len(result.outputs) == MAX_OUTPUTS
    assert len(result.records) == MAX_RECORDS and result.records_dropped == result.totals.step_runs - MAX_RECORDS


def test_batch_size_arithmetic() -> None:
    assert batch_size(250, 10) == 25
    assert batch_size(250, 3) == 84
    assert batch_size(250, 1) == BATCH_SIZE
    assert batch_size(5, 10) == 1
    assert batch_size(LEAF_MESSAGES, 1000) == 1
    assert batch_size(LEAF_MESSAGES, 1) == BATCH_SIZE


def test_branch_size_arithmetic() -> None:
    assert branch_size(1500, 10) == 150          # 2 leaves' worth, rounded up to one round of 10 slots
    assert branch_size(1500, 4) == 375
    assert branch_size(1001, 3) == 334
    assert branch_size(25_000, 10) == 834        # 25 leaves -> 3 rounds of 10 slots = 30 branches
    assert branch_size(150_000, 10) == 1500      # capped at MAX_CHILDREN: the branches fan out again
    for count, slots in [(1001, 1), (1500, 10), (7777, 7), (99_999, 10), (250_000, 1000)]:
        size = branch_size(count, slots)
        branches = -(-count // size)
        assert branches <= MAX_CHILDREN
        assert size <= LEAF_MESSAGES or branches == MAX_CHILDREN


async def test_an_emitting_step_inside_a_batch_fans_out_again(client: Client) -> None:
    steps = MockSteps({"split": numbered(20), "explode": lambda m, a: [{"n": m.body["n"], "k": k} for k in range(15)]})
    flow = make_flow("split", "explode", "last", concurrency=4)
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert steps.batch_sizes("explode") == [5] * 4                 # 20 over 4 slots
    assert steps.batch_sizes("last") == [75] * 4                   # 300 over 4 slots
    assert result.totals.delivered == 300 and result.totals.step_runs == 2 + 20 + 300


async def test_a_fan_out_past_the_leaf_size_goes_to_child_branches(client: Client) -> None:
    count = 1500
    steps = MockSteps({"split": numbered(count), "double": lambda m, a: [{"n": m.body["n"] * 2}]})
    flow = make_flow("split", "double", "last", concurrency=4)
    assert count > LEAF_MESSAGES and branch_size(count, 4) == 375
    async with mock_worker(client, steps) as queue:
        workflow_id, result = await run_flow(client, queue, flow, {})
        children = await child_ids(client, workflow_id)
        child = await client.get_workflow_handle(children[0]).describe()
    assert children == [f"{workflow_id}/b{n}" for n in range(1, 5)]
    assert child.typed_search_attributes.get(FLOW_ID) == flow.id
    # each branch runs its 375 messages one batch at a time (concurrency 1): 100, 100, 100, 75
    assert steps.batch_sizes("double") == [100] * 12 + [75] * 4
    assert sorted(call.body["n"] for call in steps.calls_to("last")) == [2 * n for n in range(count)]
    assert result.status == "completed"
    assert result.totals.model_dump() == {"delivered": count, "filtered": 0, "failed": 0, "step_runs": 2 + 2 * count}
    assert len(result.outputs) == MAX_OUTPUTS and len(result.records) == MAX_RECORDS


async def test_failures_in_branches_merge_into_the_parents_report(client: Client) -> None:
    count = 1200  # 2 leaves' worth over 10 slots: 10 branches of 120

    def picky(message: Message, attempt: int) -> list[Any]:
        if message.body["n"] % 100 == 7:
            raise Fail(f"bad record {message.body['n']}")
        return [] if message.body["n"] % 2 else [message.body]

    steps = MockSteps({"split": numbered(count), "picky": picky})
    flow = make_flow("split", "picky", "last")
    async with mock_worker(client, steps) as queue:
        workflow_id, _ = await run_flow(client, queue, flow, {})
        _, report = await failed_report(client, workflow_id)
        description = await client.get_workflow_handle(workflow_id).describe()
        children = await child_ids(client, workflow_id)
    assert children == [f"{workflow_id}/b{n}" for n in range(1, 11)]
    failed = count // 100               # n = 7, 107, ..., 1107: all odd, so not filtered
    filtered = count // 2 - failed
    delivered = count // 2
    assert report.totals.model_dump() == {"delivered": delivered, "filtered": filtered, "failed": failed,
                                          "step_runs": 2 + count + delivered}
    assert sorted(f.input["n"] for f in report.failures) == [n * 100 + 7 for n in range(failed)]
    assert {f.step_id for f in report.failures} == {"picky"}
    assert description.typed_search_attributes.get(FAILED_STEP) == ["picky"]


async def test_records_kept_and_dropped_add_up_to_the_step_runs_across_branches(client: Client) -> None:
    steps = MockSteps({"split": numbered(1500)})
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, make_flow("split", "last"), {})
    assert result.totals.step_runs == 2 + 1500
    assert len(result.records) + result.records_dropped == result.totals.step_runs


# --- batches: rebounds, failures, filtering -------------------------------------------------------------

async def test_an_item_that_rebounds_leaves_the_batch_for_the_one_message_path(client: Client) -> None:
    rebounds: dict[int, int] = {}

    def flaky(message: Message, attempt: int) -> list[Any]:
        n = message.body["n"]
        if n % 5 == 0 and rebounds.get(n, 0) < 1:   # rebounds in its batch, then ok alone
            rebounds[n] = rebounds.get(n, 0) + 1
            raise Rebound("busy")
        return [message.body]

    steps = MockSteps({"split": numbered(20), "flaky": flaky})
    flow = make_flow("split", "flaky", "after", concurrency=2)
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {})
    assert steps.batch_sizes("flaky") == [10, 10]
    rebounded = {0, 5, 10, 15}
    for n in range(20):
        flaky_calls = [(c.batch, c.attempt) for c in steps.calls_to("flaky") if c.body["n"] == n]
        after_calls = [c.batch for c in steps.calls_to("after") if c.body["n"] == n]
        if n in rebounded:
            assert flaky_calls == [(10, 1), (None, 1)], n              # in its batch, then alone
            assert after_calls == [None], n                            # and on alone to the end
        else:
            assert flaky_calls == [(10, 1)], n
            assert len(after_calls) == 1 and after_calls[0] is not None, n
    assert result.status == "completed"
    assert result.totals.model_dump() == {"delivered": 20, "filtered": 0, "failed": 0, "step_runs": 2 + 20 + 20}
    flaky_records = [r for r in result.records if r.step_id == "flaky"]
    assert len(flaky_records) == 20 and {r.status for r in flaky_records} == {"ok"}


async def test_a_failed_item_of_a_batch_is_recorded_and_the_others_go_on(client: Client) -> None:
    def picky(message: Message, attempt: int) -> list[Any]:
        if message.body["n"] == 3:
            raise Fail("n must not be 3")
        return [] if message.body["n"] >= 8 else [message.body]

    steps = MockSteps({"split": numbered(10), "picky": picky})
    flow = make_flow("split", "picky", "after", concurrency=1)
    async with mock_worker(client, steps) as queue:
        workflow_id, _ = await run_flow(client, queue, flow, {})
        error, report = await failed_report(client, workflow_id)
        description = await client.get_workflow_handle(workflow_id).describe()
    assert steps.batch_sizes("picky") == [10] and steps.batch_sizes("after") == [7]
    assert report.totals.model_dump() == {"delivered": 7, "filtered": 2, "failed": 1, "step_runs": 2 + 10 + 7}
    [failure] = report.failures
    assert (failure.step_id, failure.input, failure.error_type) == ("picky", {"n": 3}, "StepError")
    assert "step 'picky'" in str(error)
    assert description.typed_search_attributes.get(FAILED_STEP) == ["picky"]


async def test_a_batch_whose_container_dies_records_each_message_with_its_own_input(client: Client) -> None:
    def crash(message: Message, attempt: int) -> list[Any]:
        raise Crash("exit code 137")

    steps = MockSteps({"split": numbered(6), "boom": crash})
    flow = make_flow("split", "boom", "after", concurrency=2)
    async with mock_worker(client, steps) as queue:
        workflow_id, _ = await run_flow(client, queue, flow, {})
        _, report = await failed_report(client, workflow_id)
    assert steps.batch_sizes("boom") == [3, 3] and steps.calls_to("after") == []
    assert report.totals.failed == 6 and report.totals.delivered == 0
    assert sorted(f.input["n"] for f in report.failures) == list(range(6))
    assert {f.error_type for f in report.failures} == {"ContainerCrashed"}


# --- the report's caps ----------------------------------------------------------------------------------

async def test_failures_outputs_and_records_are_capped_and_the_totals_count_everything(client: Client) -> None:
    def half(message: Message, attempt: int) -> list[Any]:
        if message.body["n"] % 2:
            raise Fail("odd")
        return [message.body]

    steps = MockSteps({"split": numbered(200), "half": half})
    async with mock_worker(client, steps) as queue:
        workflow_id, _ = await run_flow(client, queue, make_flow("split", "half"), {})
        error, report = await failed_report(client, workflow_id)
    assert error.message.startswith("100 message(s) failed")
    assert report.totals.model_dump() == {"delivered": 100, "filtered": 0, "failed": 100, "step_runs": 202}
    assert len(report.failures) == MAX_FAILURES
    assert len(report.outputs) == MAX_OUTPUTS
    assert len(report.records) == MAX_RECORDS and report.records_dropped == 202 - MAX_RECORDS
