"""The CLI against a real API process (``python -m api``) and worker (``python -m worker``, steps as
local processes) on a real Temporal dev server: apply (drafts, then publish), flows list/get/start/stop,
send (and wait for the reply), runs get/follow. The errors endpoints are covered against their
contract in tests/test_cli.py."""

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.__main__ import main
from deploy.processes import free_port, start_service, wait_for_service
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.temporal

ORDERS_YAML = """id: cli-orders
name: {name}
trigger: {{id: hook, component: webhook, function: receive}}
steps:
  - id: shape
    component: transform
    function: transform
    config: {{expression: "{{'id': body.id, 'total': $sum(body.lines.(qty * price))}}"}}
"""
BREAKS_YAML = """id: cli-breaks
name: Breaks
trigger: {id: hook, component: webhook, function: receive}
steps:
  - {id: boom, component: transform, function: transform, config: {expression: '$error("no good")'}}
"""
INVALID_YAML = """id: cli-invalid
name: Invalid
trigger: {id: hook, component: webhok, function: receive}
steps: []
"""


@pytest.fixture(scope="module")
def api_url(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A worker and an API process on the test's own task queue, database and blob folder."""
    folder = tmp_path_factory.mktemp("cli-api")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CONFLUX_TEMPORAL_ADDRESS": temporal_address,
           "CONFLUX_TASK_QUEUE": f"cli-tests-{uuid.uuid4().hex[:8]}", "CONFLUX_DB_PATH": str(folder / "conflux.db"),
           "CONFLUX_BLOB_DIR": str(folder / "blobs"), "CONFLUX_RUNNER": "process", "CONFLUX_PORT": str(port)}
    worker = start_service("worker", [sys.executable, "-m", "worker"], folder, env)
    api = start_service("api", [sys.executable, "-m", "api"], folder, env)
    try:
        wait_for_service(api, port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        api.stop()
        worker.stop()


@pytest.fixture(scope="module")
def flows_dir(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two flows the tests run, applied once."""
    folder = tmp_path_factory.mktemp("flows")
    (folder / "orders.yaml").write_text(ORDERS_YAML.format(name="Orders"))
    (folder / "breaks.yml").write_text(BREAKS_YAML)
    code, _, err = conflux(api_url, "apply", str(folder))
    assert code == 0, err
    return folder


def conflux(api_url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--api", api_url, *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_apply_creates_updates_and_leaves_unchanged_flows_and_reports_invalid_files(
        api_url: str, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(ORDERS_YAML.format(name="Orders").replace("cli-orders", "cli-apply"))
    (tmp_path / "b.json").write_text(json.dumps({"id": "cli-apply-json", "name": "Json",
                                                 "trigger": {"id": "hook", "component": "webhook",
                                                             "function": "receive"}, "steps": []}))
    (tmp_path / "c.yaml").write_text(INVALID_YAML)
    code, out, err = conflux(api_url, "apply", str(tmp_path))
    assert code == 1
    assert out.splitlines() == [f"{tmp_path}/a.yaml: cli-apply created v1",
                                f"{tmp_path}/b.json: cli-apply-json created v1"]
    assert f"error: {tmp_path}/c.yaml: the flow definition has 1 problem(s)" in err and "(HTTP 422)" in err
    assert "  - trigger.component: unknown component 'webhok'" in err

    (tmp_path / "a.yaml").write_text(ORDERS_YAML.format(name="Orders renamed").replace("cli-orders", "cli-apply"))
    (tmp_path / "c.yaml").unlink()
    code, out, _ = conflux(api_url, "apply", str(tmp_path), "-o", "json")
    results = {r["flowId"]: r for r in json.loads(out)["results"]}
    assert code == 0
    assert (results["cli-apply"]["result"], results["cli-apply"]["version"]) == ("updated", 2)
    assert (results["cli-apply-json"]["result"], results["cli-apply-json"]["version"]) == ("unchanged", 1)
    assert conflux(api_url, "flows", "get", "cli-apply", "-o", "json")[1].count("Orders renamed") == 1


def test_flows_list_get_stop_and_start(api_url: str, flows_dir: Path) -> None:
    code, out, _ = conflux(api_url, "flows", "list")
    assert code == 0 and out.splitlines()[0].split()[:5] == ["ID", "NAME", "TYPE", "TRIGGER", "VERSION"]
    assert any(line.split()[:5] == ["cli-orders", "Orders", "ordinary", "webhook", "1"] for line in out.splitlines())
    listed = {flow["id"]: flow for flow in json.loads(conflux(api_url, "flows", "list", "-o", "json")[1])["flows"]}
    assert listed["cli-breaks"]["version"] == 1

    code, out, _ = conflux(api_url, "flows", "get", "cli-orders", "--version", "1")
    assert code == 0 and "ID        cli-orders\n" in out and "VERSION   1\n" in out
    assert "shape  transform  transform  conflux/transform:" in out, "the pinned image"
    definition = json.loads(conflux(api_url, "flows", "get", "cli-orders", "-o", "json")[1])
    assert definition["steps"][0]["id"] == "shape" and definition["version"] == 1

    code, out, err = conflux(api_url, "flows", "get", "cli-nope")
    assert (code, out) == (1, "") and err.startswith("error: ") and err.count("\n") == 1 and "(HTTP 404)" in err
    code, _, err = conflux(api_url, "flows", "get", "cli-orders", "--version", "9")
    assert code == 1 and "/flows/cli-orders/versions" in err, "the API's own words"

    assert conflux(api_url, "flows", "stop", "cli-orders") == (0, "cli-orders: stopped (version 1)\n", "")
    code, out, err = conflux(api_url, "send", "cli-orders", "--body", '{"id": "S-1", "lines": []}')
    assert (code, out) == (1, "") and "(HTTP 409)" in err and "/flows/cli-orders/start" in err
    assert conflux(api_url, "flows", "start", "cli-orders") == (0, "cli-orders: running (version 1)\n", "")


def test_send_then_follow_a_completed_run(api_url: str, flows_dir: Path) -> None:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    body = '{"id": "A-1", "lines": [{"qty": 2, "price": 5}]}'
    code, out, err = conflux(api_url, "send", "cli-orders", "--body", body, "--idempotency-key", key)
    assert (code, out, err) == (0, f"cli-orders:{key}\n", "")
    code, out, err = conflux(api_url, "send", "cli-orders", "--body", body, "--idempotency-key", key)
    assert code == 0 and out == f"cli-orders:{key}\n" and "nothing new started" in err

    code, out, err = conflux(api_url, "runs", "follow", f"cli-orders:{key}", "--interval", "0.2", "--timeout", "120")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    steps = [line for line in lines if line.startswith("ok ")]
    assert [line.split()[1] for line in steps] == ["hook", "shape"], out
    assert lines[-1] == f"cli-orders:{key}: COMPLETED: delivered 1, filtered 0, failed 0, step runs 2"

    code, out, _ = conflux(api_url, "runs", "get", f"cli-orders:{key}")
    assert code == 0 and "STATUS     COMPLETED\n" in out and "FLOW       cli-orders v1 (Orders)" in out
    status = json.loads(conflux(api_url, "runs", "get", f"cli-orders:{key}", "-o", "json")[1])
    assert status["result"]["outputs"] == [{"id": "A-1", "total": 10}]


def test_follow_a_failed_run_exits_1(api_url: str, flows_dir: Path) -> None:
    code, out, _ = conflux(api_url, "send", "cli-breaks", "-o", "json")
    execution_id = json.loads(out)["executionId"]
    assert code == 0 and execution_id.startswith("cli-breaks:")
    code, out, err = conflux(api_url, "runs", "follow", execution_id, "-o", "json", "--timeout", "120")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and events[-1]["event"] == "end" and events[-1]["execution"]["status"] == "FAILED"
    assert [e["record"]["stepId"] for e in events if e["event"] == "step"] == ["hook", "boom"]
    assert "no good" in err and err.startswith(f"error: {execution_id} ended FAILED")
    code, _, err = conflux(api_url, "runs", "get", "cli-breaks:never-sent")
    assert code == 1 and "there is no execution" in err


def test_python_m_cli_as_a_process(api_url: str, flows_dir: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "cli", "flows", "list", "-o", "json"], cwd=REPO_ROOT,
                            env={**os.environ, "CONFLUX_API_URL": api_url}, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "cli-orders" in {flow["id"] for flow in json.loads(listed.stdout)["flows"]}
    usage = subprocess.run([sys.executable, "-m", "cli", "runs"], cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 2 and "required: SUBCOMMAND" in usage.stderr


def test_an_api_that_is_not_running_exits_3() -> None:
    code, out, err = conflux(f"http://127.0.0.1:{free_port()}", "flows", "list")
    assert (code, out) == (3, "") and "is not reachable" in err


def test_send_and_wait_for_the_flows_reply(api_url: str, flows_dir: Path) -> None:
    body = '{"id": "W-1", "lines": [{"qty": 3, "price": 2}]}'
    code, out, err = conflux(api_url, "send", "cli-orders", "--body", body, "--wait", "--reply", "last")
    assert (code, err) == (0, "") and json.loads(out) == {"id": "W-1", "total": 6}
    code, out, err = conflux(api_url, "send", "cli-breaks", "--wait")
    assert code == 1 and out == "" and "no good" in err and "conflux runs get cli-breaks:" in err
