"""Real-time flows end to end: the HTTP API, a real Temporal dev server, warm Docker containers,
and a loopback sink that the flow's last step posts to."""

import asyncio
import functools
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from conflux.temporal import connect
from steps.docker_housekeeping import ContainerSummary
from steps.pool import WarmPool
from steps.runner import make_runner
from tests.containers import containers_with, kill
from tests.flow_helpers import start_worker_process
from tests.loopback import LoopbackServer, Sink
from tests.test_polling import RecordSource, polling_flow_definition
from tests.waiting import until
from worker.main import build_worker

pytestmark = pytest.mark.docker
DEADLINE = 90.0


def realtime_flow(flow_id: str, sink_url: str, *, version_tag: int = 1, replicas: int = 1,
                  extra_steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """webhook -> shape (transform) -> [extra] -> deliver (POST to the sink)."""
    return {
        "id": flow_id, "name": f"Real-time {flow_id}", "type": "realtime", "concurrency": 4,
        "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [
            {"id": "shape", "component": "transform", "function": "transform", "replicas": replicas,
             "config": {"expression": f"{{'flow': '{flow_id}', 'n': body.n, 'tag': {version_tag}}}"}},
            *(extra_steps or []),
            {"id": "deliver", "component": "http-request", "function": "request", "network": True,
             "config": {"url": f"{sink_url}/sink", "method": "POST"},
             "retry": {"max_attempts": 3, "initial_interval": 0.2}},
        ],
    }


@pytest.fixture(scope="module")
def rt_settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    folder = tmp_path_factory.mktemp("realtime")
    return ApiSettings(temporal_address=temporal_address, task_queue=f"rt-{uuid.uuid4().hex[:8]}",
                       db_path=folder / "conflux.db", blob_dir=folder / "blobs", realtime_max_history_events=100)


@pytest.fixture(scope="module")
async def rt(rt_settings: ApiSettings, component_images: dict) -> AsyncIterator[tuple[httpx.AsyncClient, WarmPool]]:
    """The API and one in-process worker (Docker runner, its own warm pool)."""
    client = await connect(rt_settings)
    pool = WarmPool(make_runner("docker"))
    worker = build_worker(client, rt_settings, pool, component_images)
    app = create_app(rt_settings, client=client)
    async with worker:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
            yield http, pool
    await pool.close()


async def status(http: httpx.AsyncClient, flow_id: str) -> dict[str, Any]:
    answer = await http.get(f"/flows/{flow_id}/realtime")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def define_and_start(http: httpx.AsyncClient, flow: dict[str, Any]) -> dict[str, Any]:
    saved = await http.put(f"/flows/{flow['id']}", json=flow)
    assert saved.status_code in (200, 201), saved.text
    started = await http.post(f"/flows/{flow['id']}/start")
    assert started.status_code == 200, started.text
    return started.json()


async def until_running(http: httpx.AsyncClient, flow_id: str, deadline: float = DEADLINE) -> dict[str, Any]:
    """The flow's status once its warm-up is done."""
    return await until(lambda: status_when(http, flow_id, lambda s: s["state"] == "running"), "running", deadline)


async def send(http: httpx.AsyncClient, flow_id: str, numbers: range, key: str = "") -> list[str]:
    """Post one webhook per number, 20 at a time; the accepted message ids."""
    async def one(n: int) -> str:
        answer = await http.post(f"/hooks/{flow_id}", json={"n": n},
                                 headers={"Idempotency-Key": f"{key or flow_id}-{n}"})
        assert answer.status_code == 202, answer.text
        return answer.json()["requestId"]

    ids: list[str] = []
    numbers_list = list(numbers)
    for start in range(0, len(numbers_list), 20):
        ids += await asyncio.gather(*(one(n) for n in numbers_list[start:start + 20]))
    return ids


def delivered_numbers(sink: Sink, flow_id: str) -> list[int]:
    return sorted(body["n"] for body in sink.of(flow_id))


def warm_containers(flow_id: str) -> list[ContainerSummary]:
    return containers_with(f"conflux.flow={flow_id}", "conflux.warm=true", running=True)


async def test_start_warm_up_and_messages_through_the_flow(rt, sink) -> None:
    http, pool = rt
    started = await define_and_start(http, realtime_flow("rt-basic", sink.url))
    assert started["state"] in ("starting", "running") and started["workflowId"] == "realtime:rt-basic"
    running = await until_running(http, "rt-basic")
    assert running["warmUpMs"] > 0
    containers = warm_containers("rt-basic")
    # the built-in webhook trigger runs in the platform: no container for it
    assert sorted(c.labels["conflux.step"] for c in containers) == ["deliver", "shape"]
    assert all(c.labels["conflux.flow-version"] == "1" and c.labels["conflux.replica"] == "0" for c in containers)

    answer = await http.post("/hooks/rt-basic", json={"n": 1})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["workflowId"] == "realtime:rt-basic" and body["executionId"].startswith("rt-basic:")
    await send(http, "rt-basic", range(2, 51))
    await until(lambda: len(sink.of("rt-basic")) >= 50, "50 deliveries")
    assert delivered_numbers(sink, "rt-basic") == list(range(1, 51))
    assert all(b["tag"] == 1 for b in sink.of("rt-basic"))
    counters = (await status(http, "rt-basic"))["counters"]
    assert counters["accepted"] == 50 and counters["delivered"] == 50 and counters["failed"] == 0


async def test_repeated_idempotency_key_is_processed_once(rt, sink) -> None:
    http, _ = rt
    await define_and_start(http, realtime_flow("rt-dedup", sink.url))
    first = await http.post("/hooks/rt-dedup", json={"n": 7}, headers={"Idempotency-Key": "same-key"})
    again = await http.post("/hooks/rt-dedup", json={"n": 7}, headers={"Idempotency-Key": "same-key"})
    assert first.status_code == again.status_code == 202
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    await send(http, "rt-dedup", range(100, 110))
    await until(lambda: len(sink.of("rt-dedup")) >= 11, "11 deliveries")
    await until(lambda: status_when(http, "rt-dedup", lambda s: s["counters"]["delivered"] == 11), "delivered counter")
    assert delivered_numbers(sink, "rt-dedup") == [7, *range(100, 110)]
    # the sender's key, passed on to the target with the flow and the step
    expected = ["rt-dedup/same-key/deliver", *(f"rt-dedup/rt-dedup-{n}/deliver" for n in range(100, 110))]
    assert sorted(sink.keys_of("rt-dedup")) == sorted(expected)


async def test_replicas_share_the_load(rt, sink) -> None:
    http, _ = rt
    tag = {"id": "where", "component": "code", "function": "run", "replicas": 3,
           "config": {"code": "import socket\nreturn {**msg['body'], 'host': socket.gethostname()}"}}
    await define_and_start(http, realtime_flow("rt-replicas", sink.url, extra_steps=[tag]))
    await until_running(http, "rt-replicas")
    assert len([c for c in warm_containers("rt-replicas") if c.labels["conflux.step"] == "where"]) == 3
    await send(http, "rt-replicas", range(60))
    await until(lambda: len(sink.of("rt-replicas")) >= 60, "60 deliveries")
    hosts = {body["host"] for body in sink.of("rt-replicas")}
    assert len(hosts) == 3, hosts


async def test_a_killed_step_container_is_replaced_and_nothing_is_lost(rt, sink) -> None:
    http, _ = rt
    await define_and_start(http, realtime_flow("rt-crash", sink.url))
    await until_running(http, "rt-crash")
    sending = asyncio.create_task(send(http, "rt-crash", range(200)))
    await until(lambda: len(sink.of("rt-crash")) >= 20, "the first deliveries")
    [shape] = [c for c in warm_containers("rt-crash") if c.labels["conflux.step"] == "shape"]
    kill(shape)
    await sending
    await until(lambda: set(delivered_numbers(sink, "rt-crash")) == set(range(200)), "all 200 delivered")
    assert not [c for c in warm_containers("rt-crash") if c.id == shape.id]


async def test_publish_mid_stream_switches_without_losing_a_message(rt, sink) -> None:
    http, _ = rt
    await define_and_start(http, realtime_flow("rt-publish", sink.url))
    await until_running(http, "rt-publish")
    sending = asyncio.create_task(send(http, "rt-publish", range(300)))
    await until(lambda: len(sink.of("rt-publish")) >= 30, "the first deliveries")
    published = await http.put("/flows/rt-publish", json=realtime_flow("rt-publish", sink.url, version_tag=2))
    assert published.status_code == 200 and published.json()["version"] == 2
    await sending
    await until(lambda: status_when(http, "rt-publish",
                                    lambda s: s["flowVersion"] == 2 and s["publishingVersion"] is None),
                "the switch to v2")
    await send(http, "rt-publish", range(300, 320))
    await until(lambda: len(sink.of("rt-publish")) >= 320, "320 deliveries")
    bodies = sink.of("rt-publish")
    assert sorted(b["n"] for b in bodies) == list(range(320)), "lost or duplicated"
    assert {b["tag"] for b in bodies if b["n"] >= 300} == {2}
    assert {b["tag"] for b in bodies} == {1, 2}
    await until(lambda: {c.labels["conflux.flow-version"] for c in warm_containers("rt-publish")} == {"2"},
                "the old version's containers retired")


async def test_stop_drains_then_refuses_with_409(rt, sink) -> None:
    http, _ = rt
    await define_and_start(http, realtime_flow("rt-stop", sink.url))
    await send(http, "rt-stop", range(80))
    stopped = await http.post("/flows/rt-stop/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] in ("stopping", "stopped")
    refused = await http.post("/hooks/rt-stop", json={"n": 999})
    assert refused.status_code == 409 and "POST /flows/rt-stop/start" in refused.json()["error"]
    await until(lambda: status_when(http, "rt-stop", lambda s: s["state"] == "stopped"), "stopped")
    assert delivered_numbers(sink, "rt-stop") == list(range(80))
    await until(lambda: not warm_containers("rt-stop"), "containers stopped")
    never = await http.put("/flows/rt-never", json=realtime_flow("rt-never", sink.url))
    assert never.status_code == 201
    assert (await http.post("/hooks/rt-never", json={})).status_code == 409


def delivered_at_least(sink: "Sink", flow_id: str, count: int) -> bool:
    return len(sink.of(flow_id)) >= count


async def test_continue_as_new_under_load_loses_and_duplicates_nothing(rt, sink) -> None:
    http, _ = rt
    await define_and_start(http, realtime_flow("rt-can", sink.url))
    for start in range(0, 600, 40):  # 15 signals and at least 15 batches: well past the 100-event threshold
        await send(http, "rt-can", range(start, start + 40))
        if start < 300:  # the first half waits for each round, so batches stay small and many
            await until(functools.partial(delivered_at_least, sink, "rt-can", start + 40), "the round delivered")
    await until(lambda: len(sink.of("rt-can")) >= 600, "600 deliveries")
    final = await until(lambda: status_when(http, "rt-can", lambda s: s["counters"]["delivered"] == 600),
                "delivered counter")
    assert final["continuedAsNew"] >= 1, final
    assert final["counters"]["accepted"] == 600 and final["counters"]["duplicates"] == 0
    assert delivered_numbers(sink, "rt-can") == list(range(600))


async def test_worker_killed_mid_stream_while_a_second_runs(rt_settings, sink, component_images, tmp_path) -> None:
    """Two worker processes; the one holding the flow (and its containers) is killed -9."""
    settings = rt_settings.model_copy(update={"task_queue": f"rt-kill-{uuid.uuid4().hex[:6]}",
                                              "db_path": tmp_path / "conflux.db"})
    workers = [start_worker_process(settings, settings.task_queue, tmp_path / f"worker-{i}.log") for i in range(2)]
    client = await connect(settings)
    app = create_app(settings, client=client)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
            await define_and_start(http, realtime_flow("rt-kill", sink.url))
            await until_running(http, "rt-kill", deadline=120)
            owner = warm_containers("rt-kill")[0].labels["conflux.owner"]
            [victim] = [w for w in workers if owner.endswith(f":{w.pid}")]
            sending = asyncio.create_task(send(http, "rt-kill", range(150)))
            await until(lambda: len(sink.of("rt-kill")) >= 10, "the first deliveries")
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            await sending
            await until(lambda: set(delivered_numbers(sink, "rt-kill")) == set(range(150)), "all 150 delivered",
                        deadline=120)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)


async def status_when(http: httpx.AsyncClient, flow_id: str,
                      holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The flow's real-time status when ``holds`` says yes, else None (for ``until``)."""
    current = await status(http, flow_id)
    return current if holds(current) else None


async def test_polling_trigger_in_real_time_mode_asks_its_warm_container_every_interval(rt, sink) -> None:
    """poll-http in a warm container, every second; the snapshot advances, each record arrives once."""
    http, _ = rt
    source = RecordSource()
    with LoopbackServer({"/records": source.fetch, "/sink": source.sink}) as server:
        source.url = server.url
        flow = {**polling_flow_definition(server.url, "rt-poll", interval=1), "type": "realtime"}
        source.add(5)
        await define_and_start(http, flow)
        await until(lambda: len(source.delivered) >= 5, "the first 5 records")
        source.add(3)
        await until(lambda: len(source.delivered) >= 8, "3 more records")
        polls = (await status(http, "rt-poll"))["counters"]["polls"]
        await until(lambda: status_when(http, "rt-poll", lambda s: s["counters"]["polls"] >= polls + 2),
                    "two more polls")
        assert sorted(source.delivered) == list(range(1, 9)), "each record once"
        assert [c.labels["conflux.step"] for c in warm_containers("rt-poll")].count("poll") == 1
        await http.post("/flows/rt-poll/stop")
        await until(lambda: status_when(http, "rt-poll", lambda s: s["state"] == "stopped"), "stopped")
