"""The README's first command, end to end: the local stack starts, the example flow runs in
containers, the demo sink receives the result, and Ctrl-C (SIGTERM) stops every process."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from deploy.processes import free_port
from tests.conftest import REPO_ROOT


def get_json(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return json.loads(answer.read())


def post_json(url: str, body) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_local_stack_runs_the_example_flow(tmp_path, component_images):
    ports = {name: free_port() for name in ("temporal", "ui", "api", "demo", "metrics")}
    command = [sys.executable, "-m", "deploy.stack", "--state-dir", str(tmp_path), "--temporal-port",
               str(ports["temporal"]), "--ui-port", str(ports["ui"]), "--api-port", str(ports["api"]),
               "--demo-port", str(ports["demo"]), "--metrics-port", str(ports["metrics"])]
    log = open(tmp_path / "stack.log", "w+")
    env = {name: value for name, value in os.environ.items() if name != "CONFLUX_API_AUTH"}  # as a user runs it
    stack = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops everything" not in (tmp_path / "stack.log").read_text():
            assert stack.poll() is None, (tmp_path / "stack.log").read_text()
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.5)
        api = f"http://127.0.0.1:{ports['api']}"
        [token] = re.findall(r"export CONFLUX_TOKEN=(\S+)", (tmp_path / "stack.log").read_text())
        assert (tmp_path / "api-token").read_text().strip() == token
        with pytest.raises(urllib.error.HTTPError) as refused:
            get_json(f"{api}/flows")
        assert refused.value.code == 401, "the API wants the token the stack printed"
        assert {flow["id"] for flow in get_json(f"{api}/flows", token)["flows"]} >= {"orders"}
        started = post_json(f"{api}/hooks/orders", {"customer": "globex", "total": 7})  # webhooks need none
        status = {}
        while time.monotonic() < deadline:
            status = get_json(f"{api}/executions/{started['executionId']}", token)
            if status["status"] != "RUNNING":
                break
            time.sleep(0.5)
        assert status["status"] == "COMPLETED", status
        sink = get_json(f"http://127.0.0.1:{ports['demo']}/sink")
        assert {"customer": "globex", "total": 7, "tier": "silver"} in sink["items"]
        for metrics, name in ((ports["metrics"], "conflux_step_duration_seconds_count{"),
                              (ports["metrics"] + 1, "temporal_workflow_completed{"), (ports["api"], "conflux_api_")):
            scrape = urllib.request.Request(f"http://127.0.0.1:{metrics}/metrics",  # the API's needs a token
                                            headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(scrape, timeout=10) as answer:
                assert name in answer.read().decode(), f"the stack serves metrics on {metrics}"
        pids = [int(p.read_text()) for p in (tmp_path / "run").glob("*.pid")]
        assert len(pids) == 4
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(60)
        log.close()
    for pid in pids:
        assert not _alive(pid), f"pid {pid} survived the stack"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"
