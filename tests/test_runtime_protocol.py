"""The container side of docs/step-protocol.md: the runtime driven with raw request lines."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conflux_runtime import PROTOCOL_VERSION

REPO_ROOT = Path(__file__).resolve().parent.parent
PROBE = REPO_ROOT / "tests" / "components" / "probe"


def run_runtime(lines: list[str], component: Path = PROBE) -> tuple[list[dict], str, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "conflux_runtime", str(component)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=30)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def request(request_id: str, function: str, body=None, **fields) -> str:
    return json.dumps({"id": request_id, "type": "process", "function": function, "msg": {"body": body or {}},
                       **fields})


def test_ready_comes_first_with_the_protocol_version():
    events, _, code = run_runtime([])
    assert events == [{"type": "ready", "protocol": PROTOCOL_VERSION, "runtime": events[0]["runtime"],
                       "component": {"title": "Probe", "version": "0.1.0"}}]
    assert code == 0


def test_every_request_ends_exactly_once_in_order():
    events, _, _ = run_runtime([request("a", "echo", {"x": 1}), request("b", "multi", {"count": 2}),
                                request("c", "fail")])
    ids_of_ends = [e["id"] for e in events if e["type"] == "end"]
    assert ids_of_ends == ["a", "b", "c"]
    assert [e["type"] for e in events if e.get("id") == "b"] == ["data", "data", "end"]


def test_prints_go_to_stderr_not_the_protocol_stream():
    events, stderr, _ = run_runtime([request("a", "echo", {"x": 1})])
    assert all("type" in e for e in events)
    assert "echo writes to stdout" in stderr


def test_a_line_that_is_not_json_is_answered_with_a_null_id_error_and_serving_goes_on():
    events, _, code = run_runtime(["this is not json", request("a", "echo")])
    assert events[1]["id"] is None and events[1]["type"] == "error"
    assert events[2] == {"id": None, "type": "end"}
    assert [e["type"] for e in events if e.get("id") == "a"] == ["data", "end"]
    assert code == 0


def test_unknown_function_is_an_error_naming_what_exists():
    events, _, _ = run_runtime([request("a", "nope")])
    error = next(e for e in events if e["type"] == "error")
    assert "has no trigger or action 'nope'" in error["error"]["message"]
    assert "echo" in error["error"]["message"]


def test_cfg_and_snapshot_carry_over_when_left_out():
    events, _, _ = run_runtime([request("a", "count", snapshot={"seen": 5}), request("b", "count")])
    data = [e["msg"]["body"] for e in events if e["type"] == "data"]
    assert data == [{"seen_before": 5}, {"seen_before": 6}]


def test_service_calls_answer_with_result(tmp_path):
    events, _, _ = run_runtime([json.dumps({"id": "v", "type": "verifyCredentials", "cfg": {}}),
                                json.dumps({"id": "m", "type": "getMetaModel", "function": "echo", "cfg": {}})])
    results = {e["id"]: e["result"] for e in events if e["type"] == "result"}
    assert results == {"v": {"verified": True}, "m": {}}


def test_a_broken_component_is_fatal_with_exit_code_2(tmp_path):
    (tmp_path / "component.json").write_text("{not json")
    events, _, code = run_runtime([], component=tmp_path)
    assert events[0]["type"] == "fatal" and "not valid JSON" in events[0]["error"]["message"]
    assert code == 2


def test_a_module_that_does_not_import_is_fatal_at_start(tmp_path):
    (tmp_path / "component.json").write_text('{"title": "t", "version": "1", "actions": {"a": {"main": "a.py"}}}')
    (tmp_path / "a.py").write_text("import no_such_module\n")
    events, _, code = run_runtime([], component=tmp_path)
    assert events[0]["type"] == "fatal" and "no_such_module" in events[0]["error"]["message"]
    assert code == 2


def test_snapshot_changes_of_a_failed_request_do_not_carry_over(tmp_path):
    (tmp_path / "component.json").write_text('{"title": "t", "version": "1", "actions": {"a": {"main": "a.py"}}}')
    (tmp_path / "a.py").write_text(
        "def process(msg, cfg, snapshot, emit):\n"
        "    emit.update_snapshot({'n': snapshot.get('n', 0) + 1})\n"
        "    if msg['body'].get('fail'):\n"
        "        raise RuntimeError('no')\n"
        "    return snapshot\n")
    events, _, _ = run_runtime([request("1", "a", {}), request("2", "a", {"fail": True}), request("3", "a", {})],
                               component=tmp_path)
    data = [e["msg"]["body"] for e in events if e["type"] == "data"]
    assert data == [{}, {"n": 1}]


def test_step_code_that_exits_the_process_fails_its_message_and_loses_no_event():
    events, _, code = run_runtime([request("a", "echo", {"x": 1}), request("b", "exits"), request("c", "echo")])
    assert [e["type"] for e in events if e.get("id") == "a"] == ["data", "end"]
    assert [e["type"] for e in events if e.get("id") == "b"] == ["data", "error", "end"]
    error = next(e for e in events if e["type"] == "error")
    assert "sys.exit(4)" in error["error"]["message"]
    assert not [e for e in events if e.get("id") == "c"], "the process exited as the step asked"
    assert code == 4


def test_an_event_goes_out_while_step_code_goes_on_working():
    """Buffered events are written within FLUSH_SECONDS, not when the request ends."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "conflux_runtime", str(PROBE)], stdin=subprocess.PIPE,
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


def test_a_requests_traceparent_reaches_the_component_and_its_log_lines():
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    events, stderr, _ = run_runtime([request("a", "traced", {"x": 1}, traceparent=traceparent),
                                     request("b", "traced", {"x": 2}, traceparent="not-a-trace"),
                                     request("c", "traced", {"x": 3})])
    outputs = {e["id"]: e["msg"]["body"]["traceparent"] for e in events if e.get("type") == "data"}
    assert outputs == {"a": traceparent, "b": None, "c": None}, "a malformed or missing trace is none"
    logged = {line["id"]: line for line in map(json.loads, stderr.splitlines()) if "traced probe" in line["msg"]}
    assert (logged["a"]["trace_id"], logged["a"]["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert "trace_id" not in logged["b"] and "trace_id" not in logged["c"]
