"""A container that writes garbage on the protocol stream (random bytes, a truncated JSON line, a
line beyond the line limit, an answer to a request nobody sent) never crashes or wedges what runs
it: the step fails at once with an error that says what the container did, the container is
killed, and the next message runs fine. Both runners, one-shot and long-lived sessions, and a
real-time flow's warm containers (the probe's ``garbage`` action)."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import ApiSettings
from conflux.temporal import connect
from steps.errors import PayloadTooLarge, ProtocolViolation, StepFailure
from steps.pool import WarmPool
from steps.runner import StepRunner, make_runner
from tests.loopback import Sink
from tests.test_realtime import define_and_start, delivered_numbers, status, until_running
from tests.test_runners import probe_spec, request
from tests.waiting import until
from worker.main import build_worker

LINE_LIMIT = 64 * 1024  # the probe's oversized line is twice this
TIMEOUT = 60.0  # per message: a garbage line must fail the step long before it
EXPECTED: dict[str, tuple[type[StepFailure], str]] = {
    "random": (ProtocolViolation, "not a step-protocol event"),
    "random-then-hang": (ProtocolViolation, "not a step-protocol event"),
    "truncated": (ProtocolViolation, "not a step-protocol event"),
    "truncated-then-exit": (ProtocolViolation, "ended its output in the middle of a line"),
    "oversized": (PayloadTooLarge, "above the 65,536-byte limit"),
    "wrong-id": (ProtocolViolation, "unknown request id 'nobody-asked'"),
}


@pytest.fixture
def small_lines(runner: StepRunner) -> StepRunner:
    """The parametrised runner's kind, with a line limit the probe's oversized line exceeds."""
    return make_runner("docker" if runner.kind == "docker" else "process", max_line_bytes=LINE_LIMIT)


@pytest.mark.parametrize("mode", ["one-shot", "long-lived"])
@pytest.mark.parametrize("kind", list(EXPECTED))
async def test_garbage_fails_the_step_at_once_and_the_next_message_runs(
        small_lines: StepRunner, catalog_with_probe: dict, kind: str, mode: str) -> None:
    spec = probe_spec(catalog_with_probe)
    failure, says = EXPECTED[kind]
    started = asyncio.get_running_loop().time()
    with pytest.raises(failure, match=says):
        await run(small_lines, spec, "garbage", {"kind": kind}, mode)
    assert asyncio.get_running_loop().time() - started < TIMEOUT / 3, "failed at the garbage, not at the timeout"
    [outcome] = await run(small_lines, spec, "garbage", {"n": 1}, mode)
    assert [message.body for message in outcome.data] == [{"n": 1}]


async def run(runner: StepRunner, spec: Any, function: str, body: dict[str, Any], mode: str) -> list[Any]:
    if mode == "one-shot":
        return await runner.run_once(spec, [request(function, body)], TIMEOUT)
    session = await runner.open(spec)
    try:
        return await session.call([request(function, body)], TIMEOUT)
    finally:
        await session.abort()


# --- a real-time flow's warm containers ----------------------------------------------------------

@pytest.fixture(scope="module")
async def garbage_rt(temporal_address: str, tmp_path_factory: pytest.TempPathFactory, component_images: dict,
                     probe_image: str, catalog_with_probe: dict) -> AsyncIterator[httpx.AsyncClient]:
    """The API and an in-process worker whose Docker runner has the small line limit."""
    folder = tmp_path_factory.mktemp("garbage")
    settings = ApiSettings(temporal_address=temporal_address, task_queue=f"garbage-{folder.name}",
                           db_path=folder / "conflux.db", blob_dir=folder / "blobs")
    client = await connect(settings)
    catalog = {**component_images, **catalog_with_probe}
    pool = WarmPool(make_runner("docker", max_line_bytes=LINE_LIMIT))
    app = create_app(settings, client=client)
    app.state.services.catalog = catalog
    async with build_worker(client, settings, pool, catalog):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
            yield http
    await pool.close()


def garbage_flow(sink_url: str) -> dict[str, Any]:
    return {"id": "garbage-live", "name": "Garbage, live", "type": "realtime", "concurrency": 1,
            "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "shape", "component": "transform", "function": "transform",
                       "config": {"expression": "{'kind': body.kind, 'n': body.n, 'flow': 'garbage-live'}"}},
                      {"id": "mess", "component": "probe", "function": "garbage",
                       "retry": {"max_attempts": 2, "initial_interval": 0.1}},
                      {"id": "deliver", "component": "http-request", "function": "request", "network": True,
                       "config": {"url": f"{sink_url}/sink", "method": "POST"}}]}


async def test_a_real_time_flow_fails_each_garbage_message_clearly_and_goes_on(
        garbage_rt: httpx.AsyncClient, sink: Sink) -> None:
    http = garbage_rt
    await define_and_start(http, garbage_flow(sink.url))
    await until_running(http, "garbage-live")
    for kind in EXPECTED:
        answer = await http.post("/hooks/garbage-live", json={"kind": kind})
        assert answer.status_code == 202, answer.text
    for n in range(3):
        answer = await http.post("/hooks/garbage-live", json={"n": n})
        assert answer.status_code == 202, answer.text
    await until(lambda: delivered_numbers(sink, "garbage-live") == [0, 1, 2], "the good messages delivered", 120)
    final = await until(lambda: failed_all(http), "every garbage message failed", 120)
    errors = {failure["input"]["kind"]: failure["error"] for failure in final["recentFailures"]}
    for kind, (_, says) in EXPECTED.items():
        assert says in errors[kind], (kind, errors[kind])
    assert final["state"] == "running" and final["counters"]["failed"] == len(EXPECTED), "the good ones did not fail"


async def failed_all(http: httpx.AsyncClient) -> dict[str, Any] | None:
    now = await status(http, "garbage-live")
    return now if now["counters"]["failed"] >= len(EXPECTED) else None
