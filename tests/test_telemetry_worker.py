"""A real worker process (``python -m worker``) with its metrics served and its log in JSON, a
real Temporal and the API in-process: after a flow ran, the worker's endpoints export the
dashboard's metrics and its log file carries the step's stderr line with the step's fields."""

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.settings import ApiSettings
from deploy.processes import free_port, stop_process
from tests.api_harness import api_client, api_settings
from tests.conftest import PROBE_DIR
from tests.flow_helpers import start_worker_process
from tests.loopback import LoopbackServer
from tests.test_observability import dashboard_metric_names, family_name
from tests.test_realtime import until_running
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

FLOW: dict[str, Any] = {
    "id": "observed",
    "name": "Observed",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "say", "component": "probe", "function": "echo"}],
}
REALTIME: dict[str, Any] = {
    "id": "rt-observed", "name": "Real-time observed", "type": "realtime",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "shape", "component": "transform", "function": "transform", "config": {"expression": "$"}}],
}
CRASHING: dict[str, Any] = {
    "id": "crashing",
    "name": "Crashing",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "boom", "component": "probe", "function": "crash", "retry": {"max_attempts": 1}}],
}


class Worker:
    def __init__(self, log_path: Path, metrics: str, temporal_metrics: str) -> None:
        self.log_path = log_path
        self.metrics = metrics
        self.temporal_metrics = temporal_metrics

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("telemetry"), "telemetry",
                        component_dirs=[PROBE_DIR])


@pytest.fixture(scope="module")
def worker(settings: ApiSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    metrics, temporal_metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    process = start_worker_process(settings, settings.task_queue, log_path, {
        "CONFLUX_RUNNER": "process", "CONFLUX_LOG_FORMAT": "json",
        "CONFLUX_COMPONENT_DIRS": json.dumps([str(PROBE_DIR)]),
        "CONFLUX_METRICS_ADDRESS": metrics, "CONFLUX_TEMPORAL_METRICS_ADDRESS": temporal_metrics,
        "CONFLUX_STANDBY_CONTAINERS": "0", "CONFLUX_METRICS_REFRESH_SECONDS": "0.2"})
    try:
        yield Worker(log_path, metrics, temporal_metrics)
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
async def api(settings: ApiSettings, worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings) as http:
        for flow in (FLOW, CRASHING):
            answer = await http.put(f"/flows/{flow['id']}", json=flow)
            assert answer.status_code == 201, answer.text
        yield http


async def scrape(url: str) -> dict[str, Any]:
    """Family name -> family, from a Prometheus text endpoint (waits for it to answer)."""

    async def answered() -> str | None:
        try:
            async with httpx.AsyncClient() as http:
                answer = await http.get(url)
        except httpx.TransportError:
            return None
        return answer.text if answer.status_code == 200 else None

    text = await until(answered, f"metrics at {url}")
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of the sample ``name`` whose labels include ``labels`` (0 when there is none)."""
    family = families.get(family_name(name))
    for each in family.samples if family is not None else []:
        if each.name == name and labels.items() <= each.labels.items():
            return float(each.value)
    return 0.0


async def test_after_a_flow_ran_the_worker_exports_every_dashboard_metric(api: httpx.AsyncClient,
                                                                         worker: Worker) -> None:
    ran = await api.post("/hooks/observed", json={"n": 1}, headers={"Idempotency-Key": "obs-1"})
    assert ran.status_code == 202, ran.text
    assert (await finished(api, ran.json()["executionId"]))["status"] == "COMPLETED"
    crashed = await api.post("/hooks/crashing", json={"n": 2})
    assert (await finished(api, crashed.json()["executionId"]))["status"] == "FAILED"

    ours = await scrape(f"http://{worker.metrics}/metrics")
    sdk = await scrape(f"http://{worker.temporal_metrics}/metrics")
    api_metrics = {family.name: family for family in text_string_to_metric_families((await api.get("/metrics")).text)}

    step = {"flow": "observed", "step": "say", "component": "probe"}
    assert sample(ours, "conflux_step_duration_seconds_count", **step, outcome="ok") == 1
    assert sample(ours, "conflux_step_duration_seconds_count", flow="crashing", step="boom", outcome="failed") == 1
    assert sample(ours, "conflux_container_starts_total") >= 2
    assert sample(ours, "conflux_container_failures_total", reason="ContainerCrashed") == 1
    assert sample(api_metrics, "conflux_api_messages_total", flow="observed", outcome="accepted") == 1
    assert any(name.startswith("temporal_") for name in sdk), sorted(sdk)[:10]

    exported = set(ours) | set(sdk) | set(api_metrics)
    missing = {name for name in dashboard_metric_names() if family_name(name) not in exported}
    assert not missing, f"the dashboard queries metrics no endpoint exports: {sorted(missing)}"


async def test_a_steps_stderr_reaches_the_json_log_with_its_fields(api: httpx.AsyncClient, worker: Worker) -> None:
    answer = await api.post("/hooks/observed", json={"n": 3}, headers={"Idempotency-Key": "obs-log"})
    assert (await finished(api, answer.json()["executionId"]))["status"] == "COMPLETED"

    def echoed() -> list[dict[str, Any]]:
        return [line for line in worker.json_lines()
                if line["logger"] == "conflux.step" and line.get("message_id") == "obs-log"]

    [line] = await until(echoed, "the step's stderr line in the worker's log")
    assert "echo writes to stdout" in line["message"]
    assert (line["flow"], line["version"], line["step"], line["execution_id"]) == ("observed", 1, "say",
                                                                                 "observed:obs-log")
    assert line["level"] == "info" and line["time"].endswith("+00:00")
    started = [line for line in worker.json_lines() if line["logger"] == "conflux.worker"]
    assert started and {"time", "level", "logger", "message"} <= started[0].keys(), "every line is JSON"


async def test_real_time_and_polling_flows_show_their_figures(api: httpx.AsyncClient, worker: Worker) -> None:
    assert (await api.put("/flows/rt-observed", json=REALTIME)).status_code == 201
    assert (await api.post("/flows/rt-observed/start")).status_code == 200
    await until_running(api, "rt-observed")
    for n in range(3):
        assert (await api.post("/hooks/rt-observed", json={"n": n})).status_code == 202
    rows = [{"id": 1, "updated_at": "2026-03-01T00:00:00Z"}, {"id": 2, "updated_at": "2026-03-02T00:00:00Z"}]
    with LoopbackServer({"/rows": lambda *_: (200, rows)}) as source:
        poller = {"id": "polled", "name": "Polled", "steps": [],
                  "trigger": {"id": "poll", "component": "poll-http", "function": "poll", "type": "polling",
                              "interval": 60, "config": {"url": f"{source.url}/rows"}}}
        assert (await api.put("/flows/polled", json=poller)).status_code == 201
        assert (await api.post("/flows/polled/start")).status_code == 200

        async def shown() -> dict[str, Any] | None:
            families = await scrape(f"http://{worker.metrics}/metrics")
            batched = sample(families, "conflux_realtime_batch_messages_sum", flow="rt-observed")
            polled = sample(families, "conflux_polls_total", flow="polled", outcome="ok")
            waiting = "rt-observed" in {each.labels.get("flow") for each in
                                        families["conflux_realtime_waiting_messages"].samples}
            return families if batched == 3 and polled >= 1 and waiting else None

        families = await until(shown, "the real-time batches, the poll and the waiting figure in the metrics")
    assert sample(families, "conflux_realtime_warm_containers", flow="rt-observed") == 1
    assert sample(families, "conflux_realtime_waiting_messages", flow="rt-observed") == 0
    assert sample(families, "conflux_poll_records_total", flow="polled") == 2
    assert sample(families, "conflux_step_duration_seconds_count", flow="rt-observed", step="shape") >= 1
    assert (await api.post("/flows/polled/stop")).status_code == 200
    assert (await api.post("/flows/rt-observed/stop")).status_code == 200
