"""Ordinary flows end to end: real Temporal dev server, real Docker containers per step."""

import asyncio
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from temporalio.client import Client

from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.processes import stop_process
from flows.loader import read_definition
from flows.validation import parse_flow
from steps.runner import make_runner
from tests.conftest import REPO_ROOT
from tests.flow_helpers import make_flow, run_flow, start_worker_process
from tests.loopback import LoopbackServer
from worker.main import running_worker
from workflows.flow_walk import LEAF_MESSAGES


@pytest.fixture(scope="module")
def settings(temporal_address, tmp_path_factory) -> PlatformSettings:
    return PlatformSettings(temporal_address=temporal_address, task_queue=f"e2e-{uuid.uuid4().hex[:8]}",
                            blob_dir=tmp_path_factory.mktemp("blobs"), runner="docker")


@pytest.fixture(scope="module")
async def client(settings) -> Client:
    return await connect(settings)


@pytest.fixture(scope="module")
async def docker_worker(client, settings, component_images):
    async with running_worker(client, settings, make_runner("docker"), component_images) as worker:
        yield worker


async def test_webhook_then_three_steps_with_mappings(client, settings, docker_worker, component_images):
    flow = make_flow(component_images, [
        {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.order.lines"}},
        {"id": "price", "component": "code", "function": "run",
         "config": {"code": "return {'sku': msg['body']['sku'], 'total': msg['body']['qty'] * msg['body']['price']}"}},
        {"id": "shape", "component": "transform", "function": "transform",
         "config": {"expression": "{'line': sku, 'amount': total, 'customer': customer}"},
         "mapping": {"sku": "sku", "total": "total", "customer": "$steps.hook.body.order.customer"}},
    ])
    lines = [{"sku": "a", "qty": 2, "price": 3}, {"sku": "b", "qty": 1, "price": 5}]
    body = {"order": {"customer": "ACME", "lines": lines}}
    _, result = await run_flow(client, settings.task_queue, flow, body)
    assert result.status == "completed"
    assert result.totals.delivered == 2 and result.totals.failed == 0
    assert sorted(result.outputs, key=lambda o: o["line"]) == [
        {"line": "a", "amount": 6, "customer": "ACME"}, {"line": "b", "amount": 5, "customer": "ACME"}]
    shape = [r for r in result.records if r.step_id == "shape"]
    assert {r.input["customer"] for r in shape} == {"ACME"}  # the mapped input is recorded


async def test_fan_out_of_100_messages_all_arrive(client, settings, docker_worker, component_images):
    flow = make_flow(component_images, [
        {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.items"}},
        {"id": "mark", "component": "transform", "function": "transform", "config": {"expression": "{'n': $}"}},
    ], flow_id="fan-out", concurrency=8)
    workflow_id, result = await run_flow(client, settings.task_queue, flow, {"items": list(range(100))})
    assert result.status == "completed"
    assert result.totals.delivered == 100 and result.totals.failed == 0
    assert result.totals.step_runs == 2 + 100
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    batches = [e for e in history.events if e.activity_task_scheduled_event_attributes.activity_type.name
               == "run_step_batch"]
    assert len(batches) == 8  # the 100 messages went on in one batch per concurrency slot


async def test_a_fan_out_past_the_leaf_size_goes_to_child_branches(client, settings, docker_worker, component_images):
    flow = make_flow(component_images, [
        {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.items"}},
        {"id": "mark", "component": "transform", "function": "transform", "config": {"expression": "{'n': $}"}},
    ], flow_id="wide-fan-out", concurrency=4)
    count = LEAF_MESSAGES + 500
    workflow_id, result = await run_flow(client, settings.task_queue, flow, {"items": list(range(count))})
    assert result.status == "completed" and result.totals.delivered == count
    children = [w async for w in client.list_workflows(f'WorkflowId STARTS_WITH "{workflow_id}/"')]
    assert len(children) == 4  # one branch per slot, each running its batches one after another


async def test_step_that_rebounds_twice_then_succeeds(client, settings, docker_worker, component_images):
    calls = []

    def flaky(*_):
        calls.append(time.monotonic())
        return (503, {"error": "busy"}) if len(calls) <= 2 else (200, {"ok": len(calls)})

    with LoopbackServer({"/flaky": flaky}) as server:
        flow = make_flow(component_images, [
            {"id": "call", "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{server.url}/flaky"}, "rebound": {"initial_delay": 0.5, "backoff": 2}},
        ], flow_id="flaky")
        workflow_id, result = await run_flow(client, settings.task_queue, flow, {})
    assert result.status == "completed"
    assert result.outputs == [{"status": 200, "headers": result.outputs[0]["headers"], "body": {"ok": 3}}]
    assert len(calls) == 3
    assert calls[2] - calls[1] >= 0.9  # the second rebound waited longer (doubling)
    message_id = workflow_id.partition(":")[2]
    assert [h["idempotency-key"] for h in server.received_headers] == [f"flaky/{message_id}/call"] * 3, \
        "the same key on every retry of the step"


async def test_each_message_of_a_fan_out_carries_its_own_idempotency_key(client, settings, docker_worker,
                                                                         component_images):
    with LoopbackServer({"/orders": lambda *_: (201, {})}) as server:
        flow = make_flow(component_images, [
            {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.items"}},
            {"id": "post", "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{server.url}/orders", "method": "POST"}},
        ], flow_id="keys")
        workflow_id, result = await run_flow(client, settings.task_queue, flow, {"items": [1, 2, 3]})
    assert result.status == "completed" and result.totals.delivered == 3
    message_id = workflow_id.partition(":")[2]
    keys = sorted(h["idempotency-key"] for h in server.received_headers)
    assert keys == [f"keys/{message_id}-{index}/post" for index in range(3)]


async def test_error_step_fails_the_run_with_its_input(client, settings, docker_worker, component_images):
    flow = make_flow(component_images, [
        {"id": "check", "component": "code", "function": "run", "mapping": "{'id': body.id}",
         "config": {"code": "raise ValueError('order ' + str(msg['body']['id']) + ' has no lines')"}},
    ], flow_id="failing")
    workflow_id, result = await run_flow(client, settings.task_queue, flow, {"id": 42})
    assert result.status == "failed" and result.totals.failed == 1
    [failure] = result.failures
    assert failure.step_id == "check" and failure.error_type == "StepError"
    assert failure.error is not None and "order 42 has no lines" in failure.error and failure.input == {"id": 42}
    description = await client.get_workflow_handle(workflow_id).describe()
    assert description.status.name == "FAILED"
    failed = [w async for w in client.list_workflows('FlowId = "failing" AND FailedStep = "check"')]
    assert [w.id for w in failed] == [workflow_id]


async def test_worker_killed_mid_flow_resumes_without_rerunning_finished_steps(client, settings, component_images,
                                                                           tmp_path):
    """kill -9 while step 'b' is in flight; a new worker finishes the run. 'a' ran once, 'c' once."""
    def kill(worker: subprocess.Popen) -> None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

    result, paths = await interrupt_worker_in_step_b(client, settings, component_images, tmp_path, "survivor", kill)
    assert result.status == "completed", result
    assert paths.count("/a") == 1 and paths.count("/c") == 1
    assert 1 <= paths.count("/b") <= 2  # only the step in flight may run again


async def test_worker_stopped_with_sigterm_finishes_the_step_in_flight(client, settings, component_images, tmp_path):
    """SIGTERM drains: the running step finishes and reports; the next worker goes on from there."""
    def terminate(worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0

    result, paths = await interrupt_worker_in_step_b(client, settings, component_images, tmp_path, "drained",
                                                     terminate)
    assert result.status == "completed"
    assert paths == ["/a", "/b", "/c"]  # nothing ran twice: the drained worker finished 'b'


async def interrupt_worker_in_step_b(client, settings, catalog, tmp_path, flow_id: str,
                                     interrupt: Callable[[subprocess.Popen], None]):
    """Run a -> b -> c (HTTP calls to a loopback server, b slow) on a worker process, ``interrupt``
    it while b is in flight, start another, and return the result and the paths the server saw."""
    queue = f"{flow_id}-{uuid.uuid4().hex[:8]}"
    b_started = threading.Event()

    def slow(*_):
        b_started.set()
        time.sleep(2)
        return 200, {"step": "b"}

    with LoopbackServer({"/a": lambda *_: (200, {"step": "a"}), "/b": slow,
                         "/c": lambda *_: (200, {"step": "c"})}) as server:
        flow = make_flow(catalog, [
            {"id": name, "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{server.url}/{name}"}} for name in ("a", "b", "c")
        ], flow_id=flow_id)
        worker = start_worker_process(settings, queue, tmp_path / "worker1.log")
        try:
            run = asyncio.create_task(run_flow(client, queue, flow, {}))
            assert await asyncio.to_thread(b_started.wait, 120), "step b never started"
            await asyncio.to_thread(interrupt, worker)
            worker = start_worker_process(settings, queue, tmp_path / "worker2.log")
            _, result = await asyncio.wait_for(run, 180)
        finally:
            stop_process(worker)
        return result, [path for _, path, _ in server.received]


async def test_a_batch_whose_container_crashes_records_each_message_with_its_own_input(
        client, settings, docker_worker, component_images):
    flow = make_flow(component_images, [
        {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.items"}},
        {"id": "die", "component": "code", "function": "run", "retry": {"max_attempts": 1},
         "config": {"code": "import os\nos._exit(7)"}},
    ], flow_id="crashing-batch", concurrency=1)
    _, result = await run_flow(client, settings.task_queue, flow, {"items": [{"n": 1}, {"n": 2}]})
    assert result.status == "failed" and result.totals.failed == 2
    assert sorted(f.input["n"] for f in result.failures) == [1, 2]
    assert all(f.error_type == "ContainerCrashed" and "exit code 7" in (f.error or "") for f in result.failures)


async def test_a_router_sends_each_part_of_a_split_down_its_branch(client, settings, docker_worker, component_images):
    """Containers decide (the router's JSONata), the workflow walks: big orders end in their branch,
    EU orders rejoin, the rest go on past the router."""
    with LoopbackServer({path: lambda *_: (200, {}) for path in ("/big", "/eu", "/all")}) as server:
        def post(step_id: str, path: str) -> dict:
            return {"id": step_id, "component": "http-request", "function": "request", "network": True,
                    "config": {"url": f"{server.url}{path}", "method": "POST"}, "mapping": "$steps.split"}

        flow = make_flow(component_images, [
            {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.orders"}},
            {"id": "route", "component": "router", "function": "route", "branches": [
                {"id": "big", "when": "total > 100", "steps": [post("to-big", "/big")], "then": "end"},
                {"id": "eu", "when": "region = 'eu'", "steps": [post("to-eu", "/eu")]}]},
            post("to-all", "/all"),
        ], flow_id="routing")
        orders = [{"id": 1, "total": 500, "region": "eu"}, {"id": 2, "total": 5, "region": "eu"},
                  {"id": 3, "total": 7, "region": "us"}]
        workflow_id, result = await run_flow(client, settings.task_queue, flow, {"orders": orders})
    assert result.status == "completed", result.failures
    by_path: dict[str, list[int]] = {}
    for _, path, body in server.received:
        assert isinstance(body, dict)
        by_path.setdefault(path, []).append(body["id"])
    assert {path: sorted(ids) for path, ids in by_path.items()} == {"/big": [1], "/eu": [2], "/all": [2, 3]}
    routed = sorted(str(record.routes) for record in result.records if record.step_id == "route")
    assert routed == ["['big']", "['default']", "['eu']"]
    assert {record.branch for record in result.records if record.step_id == "to-eu"} == {"route/eu"}
    assert result.totals.delivered == 3


async def test_split_then_aggregate_delivers_one_message_with_every_part_in_order(client, settings, docker_worker,
                                                                                   component_images):
    with LoopbackServer({"/orders": lambda *_: (201, {})}) as server:
        flow = make_flow(component_images, [
            {"id": "split", "component": "splitter", "function": "split", "config": {"path": "body.lines"}},
            {"id": "price", "component": "code", "function": "run",
             "config": {"code": "return {'sku': msg['body']['sku'], 'amount': msg['body']['qty'] * 2}"}},
            {"id": "join", "component": "aggregate", "function": "aggregate",
             "config": {"expression": "{'lines': $, 'total': $sum($.amount)}"}},
            {"id": "post", "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{server.url}/orders", "method": "POST"}, "mapping": "$steps.join"},
        ], flow_id="reassemble", concurrency=4)
        lines = [{"sku": f"s{n}", "qty": n} for n in range(12)]
        _, result = await run_flow(client, settings.task_queue, flow, {"lines": lines})
    assert result.status == "completed", result.failures
    [(_, _, posted)] = server.received
    assert posted == {"lines": [{"sku": f"s{n}", "amount": n * 2} for n in range(12)], "total": 132}
    assert result.totals.delivered == 1


async def test_the_order_routing_example_backorders_unknown_lines_and_delivers_one_order(
        client, settings, docker_worker, component_images):
    with LoopbackServer({"/sink": lambda *_: (200, {})}) as server:
        definition = read_definition(REPO_ROOT / "examples" / "flows" / "order-routing.yaml", {"DEMO_URL": server.url})
        flow = parse_flow(definition, component_images)
        lines = [{"sku": "pen", "qty": 3, "price": 1.5}, {"sku": "desk", "qty": 1, "price": 240},
                 {"sku": "??", "qty": 2, "price": 9}]
        _, result = await run_flow(client, settings.task_queue, flow, {"order": "A-7", "lines": lines})
    assert result.status == "completed", result.failures
    posted = sorted((body for _, _, body in server.received), key=lambda body: "backorder" in str(body))
    assert posted == [
        {"order": "A-7", "total": 244.5, "lines": [{"sku": "pen", "qty": 3, "price": 1.5, "amount": 4.5},
                                                   {"sku": "desk", "qty": 1, "price": 240, "amount": 240,
                                                    "review": True}]},
        {"backorder": "A-7", "sku": "??"},
    ]
