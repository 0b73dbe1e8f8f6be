"""PollingFlow and PollRun on a real Temporal server with the step activities mocked: when polls are
due, the ``control`` update (start, pause, resume, stop, run_now, reset_snapshot, publish) and its
validator, and when the snapshot advances. The trigger is a mock that returns records and a
snapshot; the records go through a FlowRun whose steps are mocked too."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from flows.message_ids import poll_message_id
from flows.model import Flow, Trigger
from steps.protocol import Message
from tests.mock_activities import Emit, Fail, MockSteps, connect_client, eventually, make_flow, mock_worker
from workflows.models import PollingControl, PollingInput, PollingStatus
from workflows.polling_flow import PollingFlowWorkflow
from workflows.schedule import next_poll_at
from workflows.search import flow_search_attributes

pytestmark = pytest.mark.temporal

HOUR = 3600  # an interval no test waits for: its polls come from the first one and run_now


@pytest.fixture(scope="module")
async def client(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    yield await connect_client(temporal_address, tmp_path_factory.mktemp("blobs"))


class Source:
    """A polling trigger's source: numbered records, fetched from the snapshot ``{"since": n}`` on.
    Can be made to fail, or to hold a poll until released; records when each poll ran."""

    def __init__(self, count: int = 0) -> None:
        self.records = list(range(1, count + 1))
        self.failing = False
        self.gate: asyncio.Event | None = None
        self.delay = 0.0
        self.snapshots: list[dict[str, Any]] = []
        self.started: list[float] = []
        self.ended: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def add(self, count: int) -> None:
        self.records += range(len(self.records) + 1, len(self.records) + count + 1)

    async def poll(self, snapshot: dict[str, Any], attempt: int) -> Emit:
        self.snapshots.append(snapshot)
        self.started.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)  # a slow source, as the trigger sees it
            if self.failing:
                raise Fail("source is down")
            since = snapshot.get("since", 0)
            return Emit([{"id": n} for n in self.records if n > since], snapshot={"since": len(self.records)})
        finally:
            self.in_flight -= 1
            self.ended.append(time.monotonic())


def polling_flow(flow_id: str = "poller", *steps: str, interval: float | None = HOUR, cron: str | None = None,
                 version: int = 1) -> Flow:
    trigger = Trigger(id="poll", component="mock", function="poll", type="polling", interval=interval, cron=cron)
    return make_flow(*(steps or ("store",)), flow_id=flow_id, trigger=trigger, version=version)


def stored(steps: MockSteps, step_id: str = "store") -> list[int]:
    return sorted(call.body["id"] for call in steps.calls_to(step_id))


@contextlib.asynccontextmanager
async def poller(client: Client, queue: str, flow: Flow) -> AsyncIterator[WorkflowHandle]:
    """A PollingFlow of its own, terminated at the end of the test."""
    handle = await client.start_workflow(PollingFlowWorkflow.run, PollingInput(flow=flow),
                                         id=f"poll:{flow.id}-{uuid.uuid4().hex[:8]}", task_queue=queue,
                                         search_attributes=flow_search_attributes(flow))
    try:
        yield handle
    finally:
        with contextlib.suppress(Exception):
            await handle.terminate("test over")


async def status(handle: WorkflowHandle) -> PollingStatus:
    return await handle.query(PollingFlowWorkflow.status)


async def control(handle: WorkflowHandle, action: str, **fields: Any) -> PollingStatus:
    request = PollingControl.model_validate({"action": action, **fields})
    return await handle.execute_update(PollingFlowWorkflow.control, request)


async def poll_done(handle: WorkflowHandle, number: int, timeout: float = 20.0) -> PollingStatus:
    """The status once poll ``number`` has ended."""
    return await eventually(lambda: status(handle),
                            lambda s: not s.polling_now and s.last_poll is not None
                            and s.last_poll.poll_number >= number, timeout, f"poll {number}")


async def run_now(handle: WorkflowHandle) -> PollingStatus:
    before = (await status(handle)).polls
    await control(handle, "run_now")
    return await poll_done(handle, before + 1)


# --- when a poll is due ---------------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)


def test_the_first_poll_runs_at_once() -> None:
    assert next_poll_at(polling_flow(interval=60).trigger, None, NOW) == NOW


def test_the_next_poll_is_an_interval_after_the_last_start() -> None:
    trigger = polling_flow(interval=60).trigger
    assert next_poll_at(trigger, NOW - timedelta(seconds=20), NOW) == NOW + timedelta(seconds=40)
    assert next_poll_at(trigger, NOW, NOW) == NOW + timedelta(seconds=60)


def test_a_slow_poll_is_followed_at_once_by_the_next() -> None:
    trigger = polling_flow(interval=60).trigger
    assert next_poll_at(trigger, NOW - timedelta(seconds=95), NOW) == NOW


def test_cron_gives_its_next_time_whatever_the_last_poll() -> None:
    trigger = polling_flow(interval=None, cron="*/5 * * * *").trigger
    expected = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert next_poll_at(trigger, None, NOW) == expected
    assert next_poll_at(trigger, NOW - timedelta(hours=2), NOW) == expected
    assert next_poll_at(trigger, None, expected) == expected + timedelta(minutes=5)  # strictly after now
    assert next_poll_at(trigger, None, NOW).tzinfo is not None


# --- polls and the snapshot -----------------------------------------------------------------------------

async def test_first_poll_at_once_records_go_through_the_flow_and_the_snapshot_advances(client: Client) -> None:
    source = Source(3)
    steps = MockSteps(handlers={"store": lambda m, a: [{"stored": m.body["id"]}]}, triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("first")) as handle:
        first = await poll_done(handle, 1)
        assert first.last_poll is not None
        assert (first.last_poll.status, first.last_poll.records, first.last_poll.snapshot_advanced) == ("ok", 3, True)
        assert first.last_poll.totals.delivered == 3 and first.last_poll.totals.failed == 0
        assert first.snapshot == {"since": 3} and first.state == "running" and first.polls == 1
        assert stored(steps) == [1, 2, 3]
        idle = await eventually(lambda: status(handle), lambda s: s.next_poll_at is not None)
        assert idle.next_poll_at is not None and idle.next_poll_at > datetime.now(UTC) + timedelta(minutes=59)

        source.add(2)
        second = await run_now(handle)
        assert source.snapshots == [{}, {"since": 3}]  # each poll starts from the last one's snapshot
        assert second.last_poll is not None and second.last_poll.records == 2 and second.snapshot == {"since": 5}
        assert stored(steps) == [1, 2, 3, 4, 5]

        third = await run_now(handle)
        assert third.last_poll is not None and third.last_poll.status == "nothing-new"
        assert third.snapshot == {"since": 5} and stored(steps) == [1, 2, 3, 4, 5] and third.polls == 3
    # unique for the flow's life: a poller created anew starts at poll 1 again, with another run id
    run_id = (handle.first_execution_run_id or '').replace('-', '')
    assert steps.calls_to("poll")[0].message_id == f"first-poll-1-{run_id[-12:]}"


async def test_a_failed_poll_keeps_the_snapshot_and_the_next_fetches_the_same_records(client: Client) -> None:
    source = Source(2)
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("outage")) as handle:
        await poll_done(handle, 1)
        source.failing = True
        source.add(3)
        failed = await run_now(handle)
        assert failed.last_poll is not None and failed.last_poll.status == "failed"
        assert "source is down" in (failed.last_poll.error or "")
        assert failed.snapshot == {"since": 2} and not failed.last_poll.snapshot_advanced
        assert failed.polls == 2 and failed.state == "running"
        source.failing = False
        recovered = await run_now(handle)
    assert source.snapshots == [{}, {"since": 2}, {"since": 2}]
    assert recovered.last_poll is not None and recovered.last_poll.records == 3
    assert recovered.snapshot == {"since": 5}
    assert stored(steps) == [1, 2, 3, 4, 5]


async def test_records_that_fail_in_the_flow_do_not_hold_the_snapshot_back(client: Client) -> None:
    source = Source(4)

    def picky(message: Message, attempt: int) -> list[Any]:
        if message.body["id"] == 2:
            raise Fail("record 2 is bad")
        return [message.body]

    steps = MockSteps(handlers={"store": picky}, triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("bad-record")) as handle:
        done = await poll_done(handle, 1)
    assert done.last_poll is not None and done.last_poll.status == "ok"
    assert done.last_poll.totals.failed == 1 and done.last_poll.totals.delivered == 3
    assert done.snapshot == {"since": 4}


async def test_a_one_second_interval_polls_again_a_slow_poll_at_once_never_overlapping(client: Client) -> None:
    source = Source(1)
    source.delay = 1.5  # the first poll takes longer than the interval

    async def slow_first(snapshot: dict[str, Any], attempt: int) -> Emit:
        emitted = await source.poll(snapshot, attempt)
        source.delay = 0.0
        return emitted

    steps = MockSteps(triggers={"poll": slow_first})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("tick", interval=1)) as handle:
        done = await poll_done(handle, 3)
    assert done.state == "running" and stored(steps) == [1]
    assert source.max_in_flight == 1
    assert source.started[1] - source.ended[0] < 0.9   # the slow poll is followed at once,
    assert source.started[2] - source.started[1] > 0.8  # then one interval from the last start


# --- the control update ---------------------------------------------------------------------------------

async def test_pause_resume_stop_and_start(client: Client) -> None:
    source = Source(1)
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("states")) as handle:
        await poll_done(handle, 1)
        paused = await control(handle, "pause")
        assert paused.state == "paused"
        await eventually(lambda: status(handle), lambda s: s.next_poll_at is None, what="no poll due while paused")

        while_paused = await run_now(handle)  # run-now works while paused, and leaves the flow paused
        assert while_paused.polls == 2 and while_paused.state == "paused"

        resumed = await control(handle, "resume")
        assert resumed.state == "running"
        due = await eventually(lambda: status(handle), lambda s: s.next_poll_at is not None, what="a poll due")
        assert due.next_poll_at is not None and due.next_poll_at > datetime.now(UTC) + timedelta(minutes=59)

        stopped = await control(handle, "stop")
        assert stopped.state == "stopped"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await control(handle, "run_now")
        assert "the flow is stopped" in str(refused.value.cause)

        started = await control(handle, "start")
        assert started.state == "running" and started.polls == 2  # the last poll was just now: none is due
        third = await run_now(handle)
        assert third.polls == 3 and third.state == "running"
        described = await handle.describe()
    assert described.status is not None and described.status.name == "RUNNING"
    assert len(source.snapshots) == 3


async def test_reset_snapshot_is_used_by_the_next_poll(client: Client) -> None:
    source = Source(3)
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("reset")) as handle:
        await poll_done(handle, 1)
        reset = await control(handle, "reset_snapshot", snapshot={"since": 1})
        assert reset.snapshot == {"since": 1}
        again = await run_now(handle)
        emptied = await control(handle, "reset_snapshot")
    assert source.snapshots == [{}, {"since": 1}]
    assert stored(steps) == [1, 2, 2, 3, 3]  # what the reset asked for is fetched again
    assert again.snapshot == {"since": 3} and emptied.snapshot == {}


async def first_poll_under_way(handle: WorkflowHandle) -> None:
    await eventually(lambda: status(handle), lambda s: s.polling_now, what="the first poll under way")


async def test_a_reset_during_a_poll_wins_over_that_polls_snapshot(client: Client) -> None:
    source = Source(3)
    source.gate = asyncio.Event()
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("reset-mid")) as handle:
        await first_poll_under_way(handle)
        await control(handle, "reset_snapshot", snapshot={"since": 0})
        source.gate.set()
        done = await poll_done(handle, 1)
    assert done.last_poll is not None and done.last_poll.snapshot == {"since": 3}
    assert done.snapshot == {"since": 0}


async def test_publish_takes_the_new_version_from_the_next_poll_and_the_validator_refuses_bad_requests(
        client: Client) -> None:
    source = Source(2)
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("publish")) as handle:
        await poll_done(handle, 1)
        refusals = {
            "publish needs the new flow definition": PollingControl(action="publish"),
            "belongs to flow 'publish', not 'other'": PollingControl(action="publish", flow=polling_flow("other")),
            "no longer has a polling trigger": PollingControl(action="publish", flow=make_flow("store",
                                                                                                flow_id="publish")),
        }
        for reason, request in refusals.items():
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(PollingFlowWorkflow.control, request)
            assert reason in str(refused.value.cause), reason
        published = await control(handle, "publish", flow=polling_flow("publish", "store-v2", version=2))
        assert published.flow_version == 2
        source.add(1)
        after = await run_now(handle)
    assert after.flow_version == 2 and after.polls == 2  # the refused requests changed nothing
    assert stored(steps) == [1, 2] and stored(steps, "store-v2") == [3]


# --- run_now during a poll ------------------------------------------------------------------------------

async def test_a_run_now_during_a_poll_runs_one_more_poll_right_after_it(client: Client) -> None:
    source = Source(1)
    source.gate = asyncio.Event()
    steps = MockSteps(triggers={"poll": source.poll})
    async with mock_worker(client, steps) as queue, poller(client, queue, polling_flow("run-now-mid")) as handle:
        await first_poll_under_way(handle)
        await control(handle, "run_now")
        source.gate.set()
        await poll_done(handle, 2, timeout=2)



def test_pollers_started_within_a_minute_of_each_other_give_their_messages_different_ids() -> None:
    """Temporal's run ids are UUIDv7: two made in the same minute share their first characters."""
    first, again = "019a4b2c-1111-7aaa-8bbb-0123456789ab", "019a4b2c-2222-7ccc-9ddd-ba9876543210"
    assert poll_message_id("f", 1, first) != poll_message_id("f", 1, again)
