"""Metrics and JSON logs: the dashboard's queries name only registered metrics, the API counts
every intake outcome (real Temporal, no worker: runs are started, never run), and JSON log lines
carry the context's fields, a step's stderr included. The worker's endpoints after a real run:
tests/test_telemetry_worker.py."""

import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.parser import text_string_to_metric_families

import api.metrics
import conflux.metrics
from api.app import create_app
from api.errors import ApiError
from api.settings import ApiSettings
from conflux.log_context import LogFields, logging_fields
from conflux.logs import FIELDS_ATTRIBUTE, JsonFormatter
from conflux.temporal import connect
from steps.pool import WarmPool
from steps.protocol import Message, StepRequest
from steps.runner import make_runner
from steps.spec import ContainerSpec
from tests.conftest import PROBE_DIR, REPO_ROOT
from tests.waiting import until

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "conflux-dashboard.json"
METRIC_NAME = re.compile(r"\b(?:conflux|temporal)_[a-z0-9_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")
MAX_BODY = 1024


def family_name(name: str) -> str:
    """The family a sample name belongs to (``x_bucket``, ``x_total`` -> ``x``)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def dashboard_metric_names() -> set[str]:
    """Every metric name in every panel's query expressions."""
    board = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    expressions += [variable.get("query", "") for variable in board.get("templating", {}).get("list", [])]
    assert expressions, "the dashboard has panels with queries"
    return {name for expression in expressions for name in METRIC_NAME.findall(str(expression))}


def registered(registry: CollectorRegistry) -> set[str]:
    families: list[Metric] = list(registry.collect())
    return {family.name for family in families}


def test_the_dashboard_queries_only_metrics_the_code_registers() -> None:
    ours = registered(conflux.metrics.REGISTRY) | registered(api.metrics.REGISTRY) | {conflux.metrics.WARM_CONTAINERS}
    names = dashboard_metric_names()
    unknown = {name for name in names if name.startswith("conflux_") and family_name(name) not in ours}
    assert not unknown, f"the dashboard queries metrics the code does not register: {sorted(unknown)}"
    assert {family_name(name) for name in names if name.startswith("conflux_")} == ours, "a panel per metric"
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and all(panel.get("datasource") for panel in board["panels"] if "targets" in panel)


def test_every_metric_is_documented() -> None:
    documented = (REPO_ROOT / "docs" / "observability.md").read_text()
    ours = registered(conflux.metrics.REGISTRY) | registered(api.metrics.REGISTRY) | {conflux.metrics.WARM_CONTAINERS}
    assert not {name for name in ours if f"`{name}" not in documented}


@pytest.mark.parametrize(("status", "marked", "reason"), [
    (429, "in_flight_limit", "in_flight_limit"),
    (429, None, "rate_limit"),
    (409, None, "not_running"),
    (409, "wrong_trigger", "wrong_trigger"),
    (413, None, "too_large"), (400, None, "bad_request"), (503, None, "unavailable"),
    (418, None, "refused"),
])
def test_refusal_reasons(status: int, marked: str | None, reason: str) -> None:
    assert api.metrics.refusal_reason(ApiError(status, "refused", reason=marked)) == reason


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_json_lines_carry_what_is_known_where_they_are_logged(json_log: io.StringIO) -> None:
    log = logging.getLogger("conflux.test")
    log.info("outside")
    with logging_fields(flow="f", version=3, execution_id="f:m1"):
        with logging_fields(step="s", message_id="m1"):
            log.warning("inside %s", "both")
        log.info("step done")
    log.info("own", extra={FIELDS_ATTRIBUTE: LogFields(flow="g", step="t")})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    outside, inside, done, own, failed = json_lines(json_log)
    assert outside.keys() == {"time", "level", "logger", "message"} and outside["logger"] == "conflux.test"
    assert inside == {**inside, "level": "warning", "message": "inside both", "flow": "f", "version": 3, "step": "s",
                      "message_id": "m1", "execution_id": "f:m1"}
    assert "step" not in done and done["flow"] == "f", "a block's fields end with it"
    assert (own["flow"], own["step"]) == ("g", "t") and "execution_id" not in own
    assert "ValueError: boom" in failed["exception"] and failed["level"] == "error"


async def test_a_steps_stderr_lines_carry_the_fields_of_the_run_it_serves(json_log: io.StringIO) -> None:
    """Through the pool as an activity calls it, the probe component as a local process."""
    pool = WarmPool(make_runner("process"))
    spec = ContainerSpec(image="conflux/probe", component_dir=PROBE_DIR, name_hint="probe")
    try:
        with logging_fields(flow="f", version=2, step="say", message_id="m7", execution_id="f:m7"):
            [outcome] = await pool.run_fresh(spec, [StepRequest(id="r1", function="echo", msg=Message(id="m7"))],
                                             30, origin="f/say")
    finally:
        await pool.close()
    assert outcome.error is None
    [line] = [line for line in json_lines(json_log) if line["logger"] == "conflux.step"]
    assert "echo writes to stdout" in line["message"]
    assert (line["flow"], line["version"], line["step"], line["message_id"], line["execution_id"]) == (
        "f", 2, "say", "m7", "f:m7")


def flow(flow_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "shape", "component": "transform", "function": "transform",
                       "config": {"expression": "$"}}], **extra}


@pytest.fixture(scope="module")
async def api_without_worker(temporal_address: str, tmp_path_factory: pytest.TempPathFactory,
                             ) -> AsyncIterator[httpx.AsyncClient]:
    folder: Path = tmp_path_factory.mktemp("metrics")
    settings = ApiSettings(temporal_address=temporal_address, task_queue=f"metrics-{uuid.uuid4().hex[:8]}",
                           db_path=folder / "conflux.db", blob_dir=folder / "blobs", max_body_bytes=MAX_BODY)
    app = create_app(settings, client=await connect(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
        yield http


def counts(text: str, family: str, flow_id: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for each in text_string_to_metric_families(text):
        if each.name == family:
            for sample in each.samples:
                if sample.labels.get("flow") == flow_id and sample.name == f"{family}_total":
                    found[sample.labels[label]] = sample.value
    return found


@pytest.mark.temporal
async def test_the_api_counts_every_intake_outcome(api_without_worker: httpx.AsyncClient) -> None:
    http, tag = api_without_worker, uuid.uuid4().hex[:6]
    plain, limited, capped = f"plain-{tag}", f"limited-{tag}", f"capped-{tag}"
    for definition in (flow(plain), flow(limited, rate_limit={"per_second": 0.01, "burst": 1}),
                       flow(capped, max_in_flight=1)):
        assert (await http.put(f"/flows/{definition['id']}", json=definition)).status_code == 201

    sent = [await http.post(f"/hooks/{plain}", json={"n": 1}, headers={"Idempotency-Key": f"k-{tag}"}),
            await http.post(f"/hooks/{plain}", json={"n": 1}, headers={"Idempotency-Key": f"k-{tag}"}),
            await http.post(f"/flows/{plain}/executions", json={"n": 2}),
            await http.post(f"/flows/{plain}/executions", content=b"{not json"),
            await http.post(f"/hooks/{plain}", content=b"x" * (MAX_BODY + 1)),
            await http.post(f"/hooks/{plain}?reply=last&timeout=0.2", json={"n": 3}),
            await http.post(f"/hooks/no-such-flow-{tag}", json={}),
            await http.post(f"/hooks/{limited}", json={}), await http.post(f"/hooks/{limited}", json={})]
    assert [answer.status_code for answer in sent] == [202, 202, 202, 400, 413, 504, 404, 202, 429]
    assert (await http.post(f"/flows/{plain}/stop")).status_code == 200
    assert (await http.post(f"/hooks/{plain}", json={})).status_code == 409

    async def capped_refused() -> bool:  # its runs never end (no worker): the cap shows once Temporal counts them
        return (await http.post(f"/hooks/{capped}", json={})).status_code == 429

    await until(capped_refused, "a 429 for the flow's max_in_flight")

    text = (await http.get("/metrics")).text
    assert counts(text, "conflux_api_messages", plain, "outcome") == {
        "accepted": 3, "duplicate": 1, "bad_request": 1, "too_large": 1, "not_running": 1}
    assert counts(text, "conflux_api_messages", limited, "outcome") == {"accepted": 1, "rate_limit": 1}
    assert counts(text, "conflux_api_messages", capped, "outcome")["in_flight_limit"] == 1
    assert counts(text, "conflux_api_messages", "(unknown)", "outcome")["unknown_flow"] >= 1
    assert f"no-such-flow-{tag}" not in text, "an unknown flow's name is not a label"
    assert counts(text, "conflux_api_replies", plain, "status") == {"timeout": 1}
    latency = {sample.labels["mode"]: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "conflux_api_intake_duration_seconds_count" and sample.labels["flow"] == plain}
    assert latency == {"accept": 6, "reply": 1}


async def test_the_apis_lines_during_an_intake_request_carry_its_flow_and_message_id(json_log: io.StringIO) -> None:
    async def route(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("conflux.api").warning("Temporal call failed")
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def sent(_: Any) -> None:
        return None

    scope = {"type": "http", "path": "/hooks/orders/extra", "method": "POST", "headers": [(b"x-request-id", b"r-1")]}
    await api.metrics.IntakeMetrics(route)(scope, None, sent)  # type: ignore[arg-type]  # no body is read
    [line] = json_lines(json_log)
    assert (line["flow"], line["message_id"], line["level"]) == ("orders", "r-1", "warning")
