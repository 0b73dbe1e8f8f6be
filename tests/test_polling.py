"""Polling flows on a real Temporal dev server, real containers and a loopback HTTP source."""

import asyncio
import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.processes import stop_process
from flows.validation import parse_flow
from steps.runner import make_runner
from tests.flow_helpers import start_worker_process
from tests.loopback import LoopbackServer
from worker.main import running_worker
from workflows.models import PollingControl, PollingInput, PollingStatus
from workflows.polling_flow import PollingFlowWorkflow
from workflows.search import flow_search_attributes


class RecordSource:
    """Records with ids and updated-at timestamps; answers ``since`` inclusively, can go down,
    and counts what the sink received and how many deliveries were in flight at once."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.down = False
        self.fetches = 0
        self.delivered: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.fetch_delay = 0.0
        self.fetch_started = threading.Event()
        self.url = ""  # the loopback server's, set by the fixture

    def add(self, count: int, stamp: datetime | None = None) -> None:
        with self.lock:
            base = stamp or datetime.now(UTC)
            for _ in range(count):
                self.records.append({"id": len(self.records) + 1,
                                     "updated_at": base.isoformat(timespec="microseconds").replace("+00:00", "Z")})

    def fetch(self, method, path, query, body):
        self.fetch_started.set()
        if self.fetch_delay:
            time.sleep(self.fetch_delay)
        if self.down:
            return 503, {"error": "maintenance"}
        since = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("since")
        from urllib.parse import unquote
        since = unquote(since) if since else None
        with self.lock:
            self.fetches += 1
            return 200, [r for r in self.records if since is None or r["updated_at"] >= since]

    def sink(self, method, path, query, body):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(0.01)
        with self.lock:
            self.in_flight -= 1
            self.delivered.append(body["id"])
        return 200, {"ok": True}


def polling_flow_definition(url: str, flow_id: str, *, interval: float = 3600, concurrency: int = 10,
                            action: str = "http-request") -> dict:
    """poll-http on the loopback source's /records, then a delivery to its /sink (or a transform)."""
    deliver = ({"id": "deliver", "component": "http-request", "function": "request", "network": True,
                "config": {"url": f"{url}/sink", "method": "POST"}} if action == "http-request" else
               {"id": "deliver", "component": "transform", "function": "transform",
                "config": {"expression": "{'id': id}"}})
    return {
        "id": flow_id, "name": f"Polling {flow_id}", "concurrency": concurrency,
        "trigger": {"id": "poll", "component": "poll-http", "function": "poll", "type": "polling",
                    "interval": interval, "network": True, "config": {"url": f"{url}/records"},
                    "rebound": {"initial_delay": 0.2, "backoff": 1, "max_attempts": 2}},
        "steps": [deliver],
    }


def polling_flow(catalog, url: str, flow_id: str, *, interval: float = 3600, concurrency: int = 10,
                 action: str = "http-request"):
    return parse_flow(polling_flow_definition(url, flow_id, interval=interval, concurrency=concurrency,
                                              action=action), catalog)


async def start_poller(client: Client, queue: str, flow):
    return await client.start_workflow(PollingFlowWorkflow.run, PollingInput(flow=flow), id=f"poll:{flow.id}",
                                       task_queue=queue, search_attributes=flow_search_attributes(flow))


async def wait_for_polls(handle, count: int, timeout: float = 120) -> PollingStatus:
    """Polls the workflow's status; a query that fails while a killed worker is being replaced
    (the server still routes it to the dead worker's sticky queue) is asked again."""
    deadline = time.monotonic() + timeout
    last: PollingStatus | RPCError | None = None
    while time.monotonic() < deadline:
        try:
            status: PollingStatus = await handle.query(PollingFlowWorkflow.status, rpc_timeout=timedelta(seconds=10))
        except RPCError as error:
            last = error
        else:
            if status.polls >= count and not status.polling_now:
                return status
            last = status
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {count} polls finished within {timeout}s: {last}")


async def run_now(handle) -> PollingStatus:
    before = (await handle.query(PollingFlowWorkflow.status)).polls
    await handle.execute_update(PollingFlowWorkflow.control, PollingControl(action="run_now"))
    return await wait_for_polls(handle, before + 1)


@pytest.fixture(scope="module")
def settings(temporal_address, tmp_path_factory) -> PlatformSettings:
    return PlatformSettings(temporal_address=temporal_address, task_queue=f"poll-{uuid.uuid4().hex[:8]}",
                            blob_dir=tmp_path_factory.mktemp("blobs"))


@pytest.fixture(scope="module")
async def client(settings) -> Client:
    return await connect(settings)


@pytest.fixture(scope="module")
async def docker_worker(client, settings, component_images):
    async with running_worker(client, settings, make_runner("docker"), component_images) as worker:
        yield worker


@pytest.fixture
def source():
    records = RecordSource()
    with LoopbackServer({"/records": records.fetch, "/sink": records.sink}) as server:
        records.url = server.url
        yield records


async def test_records_added_between_polls_are_delivered_exactly_once(client, settings, docker_worker,
                                                                     component_images, source):
    source.add(3)
    handle = await start_poller(client, settings.task_queue, polling_flow(component_images, source.url, "between"))
    await wait_for_polls(handle, 1)
    source.add(2, stamp=datetime.fromisoformat(source.records[-1]["updated_at"].replace("Z", "+00:00")))  # same stamp
    await run_now(handle)
    await run_now(handle)  # nothing new
    source.add(4)
    status = await run_now(handle)
    assert sorted(source.delivered) == list(range(1, 10))
    assert status.polls == 4 and status.snapshot["since"] == source.records[-1]["updated_at"]
    assert status.last_poll is not None and status.last_poll.records == 4


async def test_a_source_outage_loses_nothing_and_keeps_the_snapshot(client, settings, docker_worker,
                                                                   component_images, source):
    source.add(2)
    handle = await start_poller(client, settings.task_queue, polling_flow(component_images, source.url, "outage"))
    first = await wait_for_polls(handle, 1)
    source.down = True
    source.add(3)
    failed = await run_now(handle)
    assert failed.last_poll is not None and failed.last_poll.status == "failed" and failed.snapshot == first.snapshot
    source.down = False
    recovered = await run_now(handle)
    assert recovered.last_poll is not None and recovered.last_poll.records == 3
    assert sorted(source.delivered) == [1, 2, 3, 4, 5]


async def test_one_second_interval_polls_again_and_again(client, settings, docker_worker, component_images, source):
    flow = polling_flow(component_images, source.url, "every-second", interval=1)
    source.add(1)
    handle = await start_poller(client, settings.task_queue, flow)
    started = time.monotonic()
    status = await wait_for_polls(handle, 4, timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed >= 2.5  # four polls at most one second apart each, never overlapping
    assert source.delivered == [1] and status.state == "running"
    paused = await handle.execute_update(PollingFlowWorkflow.control, PollingControl(action="pause"))
    await asyncio.sleep(2.5)
    assert (await handle.query(PollingFlowWorkflow.status)).polls <= paused.polls + 1


async def test_pause_resume_stop_and_snapshot_reset(client, settings, docker_worker, component_images, source):
    source.add(2)
    handle = await start_poller(client, settings.task_queue, polling_flow(component_images, source.url, "control"))
    await wait_for_polls(handle, 1)
    await handle.execute_update(PollingFlowWorkflow.control, PollingControl(action="pause"))
    await run_now(handle)  # run-now works while paused
    reset = await handle.execute_update(PollingFlowWorkflow.control,
                                        PollingControl(action="reset_snapshot", snapshot={}))
    assert reset.snapshot == {}
    await run_now(handle)
    assert sorted(source.delivered) == [1, 1, 2, 2]  # a reset snapshot fetches everything again, as asked
    stopped = await handle.execute_update(PollingFlowWorkflow.control, PollingControl(action="stop"))
    assert stopped.state == "stopped" and stopped.next_poll_at is None
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(PollingFlowWorkflow.control, PollingControl(action="run_now"))
    assert "the flow is stopped" in str(refused.value.cause)


async def test_ten_thousand_records_in_one_poll_under_the_concurrency_cap(client, settings, docker_worker,
                                                                          component_images, source):
    count = 10_000
    source.add(count)
    flow = polling_flow(component_images, source.url, "big-poll", concurrency=8)
    handle = await start_poller(client, settings.task_queue, flow)
    status = await wait_for_polls(handle, 1, timeout=1800)
    assert status.last_poll is not None and status.last_poll.records == count
    assert status.last_poll.totals.delivered == count and status.last_poll.totals.failed == 0
    assert sorted(source.delivered) == list(range(1, count + 1))
    assert source.max_in_flight <= 8
    again = await run_now(handle)
    assert again.last_poll is not None and again.last_poll.records == 0  # the next poll does not fetch them again


async def test_worker_killed_in_the_middle_of_a_poll(client, settings, component_images, source, tmp_path):
    """kill -9 while the trigger is fetching; a new worker runs the poll again from the same
    snapshot: every record is delivered exactly once and the snapshot advances once."""
    queue = f"poll-kill-{uuid.uuid4().hex[:8]}"
    worker_settings = settings.model_copy(update={"task_queue": queue})
    source.add(5)
    source.fetch_delay = 3.0
    worker = start_worker_process(worker_settings, queue, tmp_path / "worker1.log")
    try:
        handle = await start_poller(client, queue, polling_flow(component_images, source.url, "poll-survivor"))
        assert await asyncio.to_thread(source.fetch_started.wait, 120), "the poll never reached the source"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        source.fetch_delay = 0.0
        worker = start_worker_process(worker_settings, queue, tmp_path / "worker2.log")
        status = await wait_for_polls(handle, 1, timeout=180)
        source.add(2)
        status = await run_now(handle)
    finally:
        stop_process(worker)
    assert sorted(source.delivered) == [1, 2, 3, 4, 5, 6, 7]
    assert status.polls == 2 and status.snapshot["since"] == source.records[-1]["updated_at"]
