"""Window aggregates on a real Temporal server with the step activities mocked
(tests/mock_activities.py; the handover activity is the real one): runs hand their messages to the
collector of their key, a window closes after its seconds or at max_messages, messages left over or
arriving late make a new window, and each window goes on as one run from the aggregate step."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from flows.aggregate_window import collector_id
from flows.aggregation import window_message
from flows.model import Flow
from flows.plan import plan_flow
from steps.protocol import Message
from tests.flow_helpers import run_flow
from tests.mock_activities import MockSteps, connect_client, mock_worker
from tests.waiting import until
from workflows.aggregate_window import AggregateWindowWorkflow
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput, FlowRunResult
from workflows.window_models import WindowInput

pytestmark = pytest.mark.temporal


@pytest.fixture(scope="module")
async def client(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    yield await connect_client(temporal_address, tmp_path_factory.mktemp("blobs"))


def window_flow(window: float, max_messages: int = 1000) -> Flow:
    """hook → check → join (a window aggregate by orderId) → ship, under a flow id of its own per test."""
    return Flow.model_validate({
        "id": f"window-{uuid.uuid4().hex[:8]}", "name": "Window",
        "trigger": {"id": "hook", "component": "signed-webhook", "function": "receive"},
        "steps": [{"id": "check", "component": "mock", "function": "run"},
                  {"id": "join", "component": "aggregate", "function": "aggregate",
                   "config": {"mode": "window", "key": "orderId", "window": window, "max_messages": max_messages}},
                  {"id": "ship", "component": "mock", "function": "run"}]})


async def window_run(client: Client, execution_id: str) -> FlowRunResult:
    """The run a window started (waited for until the collector has started it)."""
    async def result() -> FlowRunResult | None:
        try:
            return await client.get_workflow_handle(execution_id, result_type=FlowRunResult).result()
        except RPCError:  # not started yet
            return None
    return await until(result, f"the window's run {execution_id}")


def shipped(steps: MockSteps) -> list[Any]:
    return sorted((call.body for call in steps.calls_to("ship")), key=len)


async def test_messages_of_one_key_go_on_together_after_the_window_and_other_keys_apart(client: Client) -> None:
    steps = MockSteps()
    flow = window_flow(window=3)
    bodies = [{"orderId": "A", "n": 1}, {"orderId": "B", "n": 2}, {"orderId": "A", "n": 3}, {"orderId": "A", "n": 4}]
    async with mock_worker(client, steps) as queue:
        results = [await run_flow(client, queue, flow, body) for body in bodies]
        await until(lambda: len(steps.calls_to("ship")) == 2, "both windows to reach the step after the aggregate")
    windows = []
    for _, result in results:  # each run's own path ended at the handover
        [handed] = [record for record in result.records if record.step_id == "join"]
        assert result.status == "completed" and result.totals.delivered == 0
        windows.append(handed.handed_to)
    assert windows == [collector_id(flow.id, "join", key) for key in ("A", "B", "A", "A")]
    assert shipped(steps) == [[{"orderId": "B", "n": 2}],
                              [{"orderId": "A", "n": 1}, {"orderId": "A", "n": 3}, {"orderId": "A", "n": 4}]]
    assert sorted(len(call.body) for call in steps.calls_to("join")) == [1, 3]  # the aggregate step ran once per window
    first_a = results[0][0].split(":", 1)[1]
    run = await window_run(client, f"{flow.id}:{first_a}-join")
    assert run.totals.delivered == 1 and [r.step_id for r in run.records] == ["join", "ship"]


async def test_max_messages_closes_a_window_early(client: Client) -> None:
    steps = MockSteps()
    flow = window_flow(window=300, max_messages=2)
    async with mock_worker(client, steps) as queue:
        ids = [(await run_flow(client, queue, flow, {"orderId": "A", "n": n}))[0].split(":", 1)[1] for n in range(4)]
        await until(lambda: len(steps.calls_to("ship")) == 2, "two full windows to go on (long before 300 s)")
    assert shipped(steps) == [[{"orderId": "A", "n": 0}, {"orderId": "A", "n": 1}],
                              [{"orderId": "A", "n": 2}, {"orderId": "A", "n": 3}]]
    assert (await window_run(client, f"{flow.id}:{ids[0]}-join")).totals.delivered == 1


async def test_a_message_after_the_window_closed_starts_a_new_window(client: Client) -> None:
    steps = MockSteps()
    flow = window_flow(window=0.5)
    async with mock_worker(client, steps) as queue:
        await run_flow(client, queue, flow, {"orderId": "A", "n": 1})
        await until(lambda: len(steps.calls_to("ship")) == 1, "the first window to go on")
        await run_flow(client, queue, flow, {"orderId": "A", "n": 2})
        await until(lambda: len(steps.calls_to("ship")) == 2, "the late message's own window to go on")
    assert shipped(steps) == [[{"orderId": "A", "n": 1}], [{"orderId": "A", "n": 2}]]


async def test_messages_left_over_by_a_closing_window_go_on_in_the_next_one(client: Client) -> None:
    """Three messages waiting for a collector whose windows hold two (as signals that arrived while it
    closed): the first window takes two, the third goes on in the window after it (continue-as-new)."""
    steps = MockSteps()
    flow = window_flow(window=0.5, max_messages=2)
    join = plan_flow(flow).index_of("join")
    assert join is not None
    waiting = [Message(id=f"m{n}", body={"orderId": "A", "n": n}) for n in range(3)]
    window_id = collector_id(flow.id, "join", "A")
    async with mock_worker(client, steps) as queue:
        handle = await client.start_workflow(AggregateWindowWorkflow.run,
                                             WindowInput(flow=flow, step_index=join, key="A", messages=waiting[:1]),
                                             id=window_id, task_queue=queue, start_signal="add",
                                             start_signal_args=[waiting[1]])
        await handle.signal(AggregateWindowWorkflow.add, waiting[2])
        await handle.signal(AggregateWindowWorkflow.add, waiting[2])  # a repeated handover is taken once
        await until(lambda: len(steps.calls_to("ship")) == 2, "both windows to go on")
        runs = [run async for run in client.list_workflows(f"WorkflowId = '{window_id}'")]
    assert shipped(steps) == [[{"orderId": "A", "n": 2}], [{"orderId": "A", "n": 0}, {"orderId": "A", "n": 1}]]
    assert len(runs) == 2  # the first window continued as new into the second


async def test_a_retry_from_the_aggregate_step_of_a_windows_run_runs_it_on_the_windows_messages(client: Client) -> None:
    """A retry (``fromStep``) enters at the aggregate step with the message it failed on, the window's
    messages: they are aggregated again, not handed to a window once more."""
    steps = MockSteps()
    flow = window_flow(window=300)
    join = plan_flow(flow).index_of("join")
    assert join is not None
    bodies = [{"orderId": "A", "n": 1}, {"orderId": "A", "n": 2}]
    failed_on = window_message([Message(id=f"m{n}", body=body) for n, body in enumerate(bodies)], "A",
                               collector_id(flow.id, "join", "A"), "join")
    async with mock_worker(client, steps) as queue:
        result = await client.execute_workflow(
            FlowRunWorkflow.run, FlowRunInput(flow=flow, execution_id="retry", message=failed_on, start_at=join),
            id=f"{flow.id}:retry", task_queue=queue)
    assert [call.body for call in steps.calls_to("join")] == [bodies]
    assert result.totals.delivered == 1 and all(record.handed_to is None for record in result.records)


async def test_a_key_that_fails_on_a_message_fails_that_message_at_the_step(client: Client) -> None:
    steps = MockSteps()
    flow = window_flow(window=300)
    flow.steps[1].config["key"] = "orderId + 1"  # a string key: JSONata refuses the addition
    async with mock_worker(client, steps) as queue:
        _, result = await run_flow(client, queue, flow, {"orderId": "A"})
    [failure] = result.failures
    assert result.status == "failed" and failure.step_id == "join" and failure.error_type == "WindowKeyFailed"
    assert "the window key could not be computed" in str(failure.error)
