"""The container side of docs/step-protocol.md: each runtime driven with raw request lines.

Both runtimes, Python (conflux_runtime) and Node.js (conflux_runtime_node), are held to the same
cases, each against its own probe component (tests/components/probe and probe-node).
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conflux_runtime import PROTOCOL_VERSION
from steps.process_channel import node_runtime_command

REPO_ROOT = Path(__file__).resolve().parent.parent
PROBE = REPO_ROOT / "tests" / "components" / "probe"
NODE_PROBE = REPO_ROOT / "tests" / "components" / "probe-node"


@dataclass(frozen=True)
class Runtime:
    name: str
    probe: Path
    main_file: str  # what a one-function test component's "main" names
    launch: Callable[[str], list[str]]  # the command that serves a component directory

    def command(self, component: Path) -> list[str]:
        return self.launch(str(component))

    def write_component(self, directory: Path, source: str) -> Path:
        """A component with one action 'a' implemented by ``source``."""
        (directory / "component.json").write_text(json.dumps(
            {"title": "t", "version": "1", "actions": {"a": {"main": self.main_file}}}))
        (directory / self.main_file).write_text(source)
        return directory


PYTHON = Runtime("python", PROBE, "a.py", lambda component: [sys.executable, "-m", "conflux_runtime", component])
NODE = Runtime("node", NODE_PROBE, "a.js", lambda component: node_runtime_command(
    shutil.which("node") or "node", str(REPO_ROOT / "conflux_runtime_node" / "main.js"), component))


@pytest.fixture(params=[PYTHON, NODE], ids=lambda runtime: runtime.name)
def runtime(request: pytest.FixtureRequest) -> Runtime:
    if request.param is NODE:
        request.getfixturevalue("node_tools")
    return request.param


def run_runtime(runtime: Runtime, lines: list[str], component: Path | None = None) -> tuple[list[dict], str, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(runtime.command(component or runtime.probe), input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=30)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def request(request_id: str, function: str, body=None, **fields) -> str:
    return json.dumps({"id": request_id, "type": "process", "function": function, "msg": {"body": body or {}},
                       **fields})


def test_ready_comes_first_with_the_protocol_version(runtime):
    events, _, code = run_runtime(runtime, [])
    assert events == [{"type": "ready", "protocol": PROTOCOL_VERSION, "runtime": events[0]["runtime"],
                       "component": {"title": "Probe", "version": "0.1.0"}}]
    assert code == 0


def test_every_request_ends_exactly_once_in_order(runtime):
    events, _, _ = run_runtime(runtime, [request("a", "echo", {"x": 1}), request("b", "multi", {"count": 2}),
                                request("c", "fail")])
    ids_of_ends = [e["id"] for e in events if e["type"] == "end"]
    assert ids_of_ends == ["a", "b", "c"]
    assert [e["type"] for e in events if e.get("id") == "b"] == ["data", "data", "end"]


def test_prints_go_to_stderr_not_the_protocol_stream(runtime):
    events, stderr, _ = run_runtime(runtime, [request("a", "echo", {"x": 1})])
    assert all("type" in e for e in events)
    assert "echo writes to stdout" in stderr


def test_writes_that_bypass_the_languages_stdout_reach_stderr_not_the_protocol_stream(runtime):
    """fd 1 itself is stderr: a raw write to it, or a child process inheriting it, cannot corrupt an event."""
    events, stderr, code = run_runtime(runtime, [request("a", "writes_to_fd1", {"x": 1}), request("b", "echo")])
    assert [(e.get("id"), e["type"]) for e in events] == [(None, "ready"), ("a", "data"), ("a", "end"),
                                                         ("b", "data"), ("b", "end")]
    assert "noise written to fd 1" in stderr and "noise from a child process" in stderr
    assert code == 0


def test_a_line_that_is_not_json_is_answered_with_a_null_id_error_and_serving_goes_on(runtime):
    events, _, code = run_runtime(runtime, ["this is not json", request("a", "echo")])
    assert events[1]["id"] is None and events[1]["type"] == "error"
    assert events[2] == {"id": None, "type": "end"}
    assert [e["type"] for e in events if e.get("id") == "a"] == ["data", "end"]
    assert code == 0


def test_unknown_function_is_an_error_naming_what_exists(runtime):
    events, _, _ = run_runtime(runtime, [request("a", "nope")])
    error = next(e for e in events if e["type"] == "error")
    assert "has no trigger or action 'nope'" in error["error"]["message"]
    assert "echo" in error["error"]["message"]


def test_cfg_and_snapshot_carry_over_when_left_out(runtime):
    events, _, _ = run_runtime(runtime, [request("a", "count", snapshot={"seen": 5}), request("b", "count")])
    data = [e["msg"]["body"] for e in events if e["type"] == "data"]
    assert data == [{"seen_before": 5}, {"seen_before": 6}]


def test_service_calls_answer_with_result(runtime, tmp_path):
    events, _, _ = run_runtime(runtime, [json.dumps({"id": "v", "type": "verifyCredentials", "cfg": {}}),
                                json.dumps({"id": "m", "type": "getMetaModel", "function": "echo", "cfg": {}})])
    results = {e["id"]: e["result"] for e in events if e["type"] == "result"}
    assert results == {"v": {"verified": True}, "m": {}}


def test_a_broken_component_is_fatal_with_exit_code_2(runtime, tmp_path):
    (tmp_path / "component.json").write_text("{not json")
    events, _, code = run_runtime(runtime, [], component=tmp_path)
    assert events[0]["type"] == "fatal" and "not valid JSON" in events[0]["error"]["message"]
    assert code == 2


IMPORTS_WHAT_IS_NOT_THERE = {"python": "import no_such_module\n", "node": "require('no_such_module');\n"}


def test_a_module_that_does_not_import_is_fatal_at_start(runtime, tmp_path):
    runtime.write_component(tmp_path, IMPORTS_WHAT_IS_NOT_THERE[runtime.name])
    events, _, code = run_runtime(runtime, [], component=tmp_path)
    assert events[0]["type"] == "fatal" and "no_such_module" in events[0]["error"]["message"]
    assert code == 2


COUNTS_THEN_MAY_FAIL = {
    "python": ("def process(msg, cfg, snapshot, emit):\n"
               "    emit.update_snapshot({'n': snapshot.get('n', 0) + 1})\n"
               "    if msg['body'].get('fail'):\n"
               "        raise RuntimeError('no')\n"
               "    return snapshot\n"),
    "node": ("exports.process = async function (msg, cfg, snapshot) {\n"
             "  await this.emit('updateSnapshot', { n: (snapshot.n || 0) + 1 });\n"
             "  if (msg.body.fail) throw new Error('no');\n"
             "  return { body: snapshot };\n"
             "};\n"),
}


def test_snapshot_changes_of_a_failed_request_do_not_carry_over(runtime, tmp_path):
    runtime.write_component(tmp_path, COUNTS_THEN_MAY_FAIL[runtime.name])
    requests = [request("1", "a", {}), request("2", "a", {"fail": True}), request("3", "a", {})]
    events, _, _ = run_runtime(runtime, requests, component=tmp_path)
    data = [e["msg"]["body"] for e in events if e["type"] == "data"]
    assert data == [{}, {"n": 1}]


def test_step_code_that_exits_the_process_fails_its_message_and_loses_no_event(runtime):
    requests = [request("a", "echo", {"x": 1}), request("b", "exits"), request("c", "echo")]
    events, _, code = run_runtime(runtime, requests)
    assert [e["type"] for e in events if e.get("id") == "a"] == ["data", "end"]
    assert [e["type"] for e in events if e.get("id") == "b"] == ["data", "error", "end"]
    error = next(e for e in events if e["type"] == "error")
    assert {"python": "sys.exit(4)", "node": "process.exit(4)"}[runtime.name] in error["error"]["message"]
    assert not [e for e in events if e.get("id") == "c"], "the process exited as the step asked"
    assert code == 4


def test_an_event_goes_out_while_step_code_goes_on_working(runtime):
    """Buffered events are written within FLUSH_SECONDS, not when the request ends."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(runtime.command(runtime.probe), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        assert json.loads(process.stdout.readline())["type"] == "ready"
        process.stdin.write((request("a", "emits_then_works", {"seconds": 30}) + "\n").encode())
        process.stdin.flush()
        reader = ThreadPoolExecutor(1)  # a held-back event would come only after the 30 s
        try:
            first = json.loads(reader.submit(process.stdout.readline).result(timeout=5))
        finally:
            reader.shutdown(wait=False)  # the kill below ends a read still blocked: 5 s stay 5 s
        assert first == {"id": "a", "type": "data", "msg": {"body": {"first": True}}}
        assert process.poll() is None, "the step is still working"
    finally:
        process.kill()
        process.wait()


def test_a_large_pipelined_batch_and_a_one_megabyte_line_round_trip(runtime):
    """Lines longer than one read, and many in one read, are split where they end."""
    blob = "x" * (1024 * 1024)
    lines = [request(f"r{i}", "echo", {"n": i}) for i in range(500)] + [request("big", "echo", {"blob": blob})]
    events, _, code = run_runtime(runtime, lines)
    data = {e["id"]: e["msg"]["body"] for e in events if e["type"] == "data"}
    assert [data[f"r{i}"]["n"] for i in range(500)] == list(range(500))
    assert data["big"] == {"blob": blob}
    assert [e["id"] for e in events if e["type"] == "end"] == [f"r{i}" for i in range(500)] + ["big"]
    assert code == 0


def test_a_requests_traceparent_reaches_the_component_and_its_log_lines(runtime):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    events, stderr, _ = run_runtime(runtime, [request("a", "traced", {"x": 1}, traceparent=traceparent),
                                      request("b", "traced", {"x": 2}, traceparent="not-a-trace"),
                                      request("c", "traced", {"x": 3})])
    outputs = {e["id"]: e["msg"]["body"]["traceparent"] for e in events if e.get("type") == "data"}
    assert outputs == {"a": traceparent, "b": None, "c": None}, "a malformed or missing trace is none"
    logged = {line["id"]: line for line in map(json.loads, stderr.splitlines()) if "traced probe" in line["msg"]}
    assert (logged["a"]["trace_id"], logged["a"]["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert "trace_id" not in logged["b"] and "trace_id" not in logged["c"]
