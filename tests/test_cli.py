"""The CLI against the agreed API contract (docs/api.md; drafts, request-reply and errors as agreed
in the issue), answered by an in-test fake through httpx's MockTransport: what it sends, what it
prints, which exit code. tests/test_cli_api.py runs it against the real API."""

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.__main__ import main
from cli.parser import build_parser

Answer = tuple[int, Any] | httpx.Response
Route = Answer | list[Answer] | Callable[[httpx.Request], Answer]

FLOW_YAML = """id: {id}
name: {name}
trigger: {{id: hook, component: webhook, function: receive}}
steps:
  - {{id: shape, component: transform, function: transform, config: {{expression: "body"}}}}
"""


def saved(flow_id: str, version: int, *, created: bool = False, changed: bool = True,
          previous: int | None | str = "absent") -> dict[str, Any]:
    """A FlowSaved answer; publish's adds previousVersion."""
    answer: dict[str, Any] = {"id": flow_id, "name": flow_id, "version": version, "type": "ordinary",
                              "triggerType": "webhook", "revision": f"rev{version}", "createdAt": "2026-01-02T03:04:05",
                              "created": created, "changed": changed, "flow": {"id": flow_id}}
    if previous != "absent":
        answer["previousVersion"] = previous
    return answer


def draft(flow_id: str) -> dict[str, Any]:
    return {"id": flow_id, "draft": {"id": flow_id}, "revision": "draftrev", "savedAt": "2026-01-02T03:04:05"}


class FakeApi:
    """Answers (method, path) from ``routes``; a list is answered in order (its last one from then
    on). Every request is kept, with its JSON body, to check what the CLI sent."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            answer: Answer = (404, {"error": f"there is nothing at {request.method} {request.url.path}"})
        elif isinstance(route, list):
            answer = route.pop(0) if len(route) > 1 else route[0]
        elif callable(route):
            answer = route(request)
        else:
            answer = route
        if isinstance(answer, httpx.Response):
            return answer
        status, body = answer
        return httpx.Response(status, json=body)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def bodies(self, method: str, path: str) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.sent(method, path)]


def cli(api: FakeApi, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--api", "http://conflux.test", *argv], transport=httpx.MockTransport(api.handle), stdout=out,
                stderr=err)
    return code, out.getvalue(), err.getvalue()


def flow_files(folder: Path, *flows: tuple[str, str]) -> Path:
    for flow_id, text in flows:
        (folder / f"{flow_id}.yaml").write_text(text)
    return folder


# --- help and usage -----------------------------------------------------------------------------

def leaf_commands() -> list[list[str]]:
    """Every runnable command line prefix, from the parser itself (a new command is covered)."""
    found: list[list[str]] = []

    def walk(parser: Any, prefix: list[str]) -> None:
        groups = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not groups:
            found.append(prefix)
        for group in groups:
            for name, child in group.choices.items():
                walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_every_command_has_help_and_the_top_level_lists_exit_codes() -> None:
    commands = leaf_commands()
    assert ["apply"] in commands and ["flows", "publish"] in commands and ["errors", "retry"] in commands
    for command in [[], *commands]:
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdout", out)
            assert main([*command, "--help"]) == 0, command
        assert "usage: conflux" in out.getvalue() and "exit codes:" in out.getvalue(), command
        assert "4    timed out waiting" in out.getvalue()


def test_usage_errors_exit_2_and_send_nothing(tmp_path: Path) -> None:
    api = FakeApi({})
    assert cli(api, "flows")[0] == 2, "a group without its subcommand"
    assert cli(api, "flows", "get", "x", "--version", "0")[0] == 2
    assert cli(api, "send", "x", "--body", "{}", "--body-file", "f")[0] == 2
    code, _, err = cli(api, "send", "x", "--body", '{"a": 1,}')
    assert code == 2 and "not valid JSON" in err and "line 1 column 9" in err
    assert cli(api, "send", "x", "--reply", "last")[0] == 2, "--reply needs --wait"
    code, _, err = cli(api, "apply", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err
    code, _, err = cli(api, "apply", str(tmp_path))
    assert code == 2 and "holds no flow files" in err
    code, _, err = cli(api, "errors", "retry", "orders", "e1", "e2", "--body", "{}")
    assert code == 2 and "exactly one error id" in err
    assert api.requests == []


def test_options_are_taken_before_or_after_the_command() -> None:
    api = FakeApi({("GET", "/flows"): (200, {"flows": []})})
    assert json.loads(cli(api, "-o", "json", "flows", "list")[1]) == {"flows": []}
    assert json.loads(cli(api, "flows", "list", "-o", "json")[1]) == {"flows": []}


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    api = FakeApi({("GET", "/flows"): (200, {"flows": [{"id": "orders", "name": "Orders", "type": "ordinary",
                                                      "triggerType": "webhook", "version": 1}]})})
    err = io.StringIO()
    code = main(["--api", "http://conflux.test", "flows", "list"], transport=httpx.MockTransport(api.handle),
                stdout=ClosedPipe(), stderr=err)
    assert (code, err.getvalue()) == (0, "")


def test_the_token_goes_as_a_bearer_header(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi({("GET", "/flows"): (200, {"flows": []})})
    cli(api, "flows", "list", "--token", "cfx_given")
    assert api.requests[-1].headers["Authorization"] == "Bearer cfx_given"
    monkeypatch.setenv("CONFLUX_TOKEN", "cfx_from_env")
    cli(api, "flows", "list")
    assert api.requests[-1].headers["Authorization"] == "Bearer cfx_from_env"


# --- exit codes from the API's answers ----------------------------------------------------------

def test_api_errors_are_one_line_from_the_api_with_their_exit_code() -> None:
    api = FakeApi({
        ("GET", "/flows/nope"): (404, {"error": "there is no flow 'nope'; GET /flows lists the flows"}),
        ("GET", "/flows"): (503, {"error": "Temporal at 127.0.0.1:7233 is not reachable (refused);\n try later"}),
        ("POST", "/flows/x/start"): httpx.Response(502, text="<html>Bad Gateway</html>"),
    })
    code, out, err = cli(api, "flows", "get", "nope")
    assert (code, out) == (1, "") and err == "error: there is no flow 'nope'; GET /flows lists the flows (HTTP 404)\n"
    code, _, err = cli(api, "flows", "list")
    assert code == 3 and err.count("\n") == 1 and "not reachable (refused); try later (HTTP 503)" in err
    code, _, err = cli(api, "flows", "start", "x")
    assert code == 3 and "answered 502: <html>Bad Gateway</html>" in err


def test_an_api_that_cannot_be_reached_exits_3() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    out, err = io.StringIO(), io.StringIO()
    code = main(["flows", "list"], transport=httpx.MockTransport(refuse), stdout=out, stderr=err)
    assert code == 3 and "is not reachable ([Errno 111] Connection refused)" in err.getvalue()
    assert "CONFLUX_API_URL" in err.getvalue()


# --- apply --------------------------------------------------------------------------------------

def test_apply_saves_drafts_and_publishes_each_file(tmp_path: Path) -> None:
    folder = flow_files(tmp_path, ("a-new", FLOW_YAML.format(id="a-new", name="New")),
                        ("b-changed", FLOW_YAML.format(id="b-changed", name="Changed")),
                        ("c-same", FLOW_YAML.format(id="c-same", name="Same")))
    (folder / "notes.txt").write_text("not a flow")
    api = FakeApi({
        ("PUT", "/flows/a-new/draft"): (201, draft("a-new")),
        ("POST", "/flows/a-new/publish"): (200, saved("a-new", 1, created=True, previous=None)),
        ("PUT", "/flows/b-changed/draft"): (200, draft("b-changed")),
        ("POST", "/flows/b-changed/publish"): (200, saved("b-changed", 3, previous=2)),
        ("PUT", "/flows/c-same/draft"): (200, draft("c-same")),
        ("POST", "/flows/c-same/publish"): (200, saved("c-same", 2, changed=False, previous=2)),
    })
    code, out, err = cli(api, "apply", str(folder))
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{folder}/a-new.yaml: a-new created v1",
                                f"{folder}/b-changed.yaml: b-changed updated v3",
                                f"{folder}/c-same.yaml: c-same unchanged v2"]
    [sent] = api.bodies("PUT", "/flows/a-new/draft")
    assert sent["name"] == "New" and sent["steps"][0]["config"] == {"expression": "body"}, "the parsed file as JSON"
    assert api.sent("POST", "/flows/a-new/publish")[0].content == b"", "publish without a body publishes the draft"
    assert not api.sent("PUT", "/flows/a-new"), "the drafts API, not the one-call save"


def test_apply_reports_each_invalid_file_with_its_problems_and_applies_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFLUX_TEST_NOT_SET", raising=False)
    folder = flow_files(tmp_path, ("a-bad", FLOW_YAML.format(id="a-bad", name="Bad")),
                        ("b-good", FLOW_YAML.format(id="b-good", name="Good")),
                        ("c-broken", "id: c-broken\nname: [unclosed\n"),
                        ("d-env", FLOW_YAML.format(id="d-env", name="${CONFLUX_TEST_NOT_SET}")))
    problems = [{"where": "trigger.component", "problem": "unknown component 'webhok' (known: transform, webhook)"},
                {"where": "steps[0] (shape).config.expression", "problem": "required field 'expression' is missing"}]
    api = FakeApi({
        ("PUT", "/flows/a-bad/draft"): (422, {"error": "the flow definition has 2 problem(s); fix each one listed "
                                                       "under 'problems' and send the whole definition again",
                                              "problems": problems}),
        ("PUT", "/flows/b-good/draft"): (201, draft("b-good")),
        ("POST", "/flows/b-good/publish"): (200, saved("b-good", 1, created=True, previous=None)),
    })
    code, out, err = cli(api, "apply", str(folder / "a-bad.yaml"), str(folder))
    assert code == 1
    assert out == f"{folder}/b-good.yaml: b-good created v1\n", "a-bad.yaml given twice is applied once"
    assert f"error: {folder}/a-bad.yaml: the flow definition has 2 problem(s)" in err and "(HTTP 422)" in err
    assert "  - trigger.component: unknown component 'webhok'" in err
    assert "  - steps[0] (shape).config.expression: required field 'expression' is missing" in err
    assert f"error: {folder}/c-broken.yaml: {folder}/c-broken.yaml cannot be read" in err
    assert "  - (file): not valid YAML" in err
    assert "  - (file): environment variable CONFLUX_TEST_NOT_SET is not set" in err
    assert len(api.sent("PUT", "/flows/a-bad/draft")) == 1 and not api.sent("POST", "/flows/a-bad/publish")

    code, out, _ = cli(api, "apply", str(folder), "-o", "json")
    results = {Path(r["file"]).stem: r for r in json.loads(out)["results"]}
    assert code == 1 and set(results) == {"a-bad", "b-good", "c-broken", "d-env"}
    assert results["c-broken"]["flowId"] is None and results["c-broken"]["problems"][0]["where"] == "(file)"
    assert results["b-good"] == {"file": f"{folder}/b-good.yaml", "flowId": "b-good", "result": "created",
                                 "version": 1, "revision": "rev1", "error": None, "problems": []}
    assert results["a-bad"]["result"] == "failed" and results["a-bad"]["problems"] == problems


def test_apply_draft_only_saves_drafts(tmp_path: Path) -> None:
    folder = flow_files(tmp_path, ("orders", FLOW_YAML.format(id="orders", name="Orders")))
    api = FakeApi({("PUT", "/flows/orders/draft"): (200, draft("orders"))})
    code, out, _ = cli(api, "apply", "--draft", str(folder))
    assert code == 0 and out == (f"{folder}/orders.yaml: orders draft saved (revision draftrev; "
                                 "conflux flows publish orders makes it active)\n")
    assert not api.sent("POST", "/flows/orders/publish")


def test_apply_falls_back_to_put_when_the_api_has_no_drafts(tmp_path: Path) -> None:
    folder = flow_files(tmp_path, ("a", FLOW_YAML.format(id="a", name="A")), ("b", FLOW_YAML.format(id="b", name="B")))
    api = FakeApi({("PUT", "/flows/a"): (201, saved("a", 1, created=True)),
                   ("PUT", "/flows/b"): (200, saved("b", 4, changed=False))})
    code, out, err = cli(api, "apply", str(folder))
    assert code == 0 and out.splitlines() == [f"{folder}/a.yaml: a created v1", f"{folder}/b.yaml: b unchanged v4"]
    assert err.count("note: this API has no drafts") == 1
    assert len(api.sent("PUT", "/flows/a/draft")) == 1 and not api.sent("PUT", "/flows/b/draft"), "asked once"

    code, out, err = cli(api, "apply", "--draft", str(folder))
    assert code == 1 and out == "" and err.count("--draft cannot save one") == 2


def test_apply_stops_when_the_api_cannot_be_reached(tmp_path: Path) -> None:
    folder = flow_files(tmp_path, ("a", FLOW_YAML.format(id="a", name="A")), ("b", FLOW_YAML.format(id="b", name="B")))
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    err = io.StringIO()
    code = main(["apply", str(folder)], transport=httpx.MockTransport(refuse), stdout=io.StringIO(), stderr=err)
    assert code == 3 and calls == ["/flows/a/draft"] and "not reachable" in err.getvalue()


# --- flows --------------------------------------------------------------------------------------

def test_flows_list_shows_state_and_drafts() -> None:
    flows = {"flows": [
        {"id": "orders", "name": "Orders to CRM", "type": "ordinary", "triggerType": "webhook", "version": 3,
         "state": "running", "hasDraft": True, "revision": "abc", "createdAt": "2026-11-22T12:34:46+00:00"},
        {"id": "sketch", "name": "Sketch", "type": "realtime", "triggerType": "webhook", "version": None,
         "state": "draft", "hasDraft": True, "revision": "def", "createdAt": "2026-11-22T12:35:00+00:00"}]}
    code, out, _ = cli(FakeApi({("GET", "/flows"): (200, flows)}), "flows", "list")
    assert code == 0 and out.splitlines() == [
        "ID      NAME           TYPE      TRIGGER  VERSION  STATE    DRAFT  CREATED",
        "orders  Orders to CRM  ordinary  webhook  3        running  yes    2026-11-22 12:34:46",
        "sketch  Sketch         realtime  webhook  -        draft    yes    2026-11-22 12:35:00"]


def test_flows_get_a_version_and_the_draft() -> None:
    definition = {"id": "orders", "name": "Orders", "version": 2, "type": "ordinary",
                  "trigger": {"id": "hook", "component": "webhook", "function": "receive", "type": "webhook"},
                  "steps": [{"id": "shape", "component": "transform", "function": "transform",
                             "image": "conflux/transform:1-abc"}]}
    api = FakeApi({("GET", "/flows/orders"): httpx.Response(200, json=definition, headers={"ETag": '"abc123"'}),
                   ("GET", "/flows/orders/draft"): (200, {**draft("orders"), "draft": {**definition, "name": "New"}})})
    code, out, _ = cli(api, "flows", "get", "orders", "--version", "2")
    assert code == 0 and api.requests[-1].url.params["version"] == "2"
    assert "VERSION   2\nREVISION  abc123\n" in out and "trigger   hook (webhook/receive, webhook)" in out.lower()
    assert "shape  transform  transform  conflux/transform:1-abc" in out
    assert json.loads(cli(api, "flows", "get", "orders", "-o", "json")[1]) == definition

    code, out, _ = cli(api, "flows", "get", "orders", "--draft")
    assert code == 0 and "NAME      New" in out and "VERSION   draft" in out and "REVISION  draftrev" in out


def test_flows_publish_the_draft_or_roll_back() -> None:
    api = FakeApi({("POST", "/flows/orders/publish"): [
        (200, saved("orders", 3, previous=2)), (200, saved("orders", 4, previous=3)),
        (409, {"error": "flow 'orders' has no draft to publish; save one with PUT /flows/orders/draft"})]})
    assert cli(api, "flows", "publish", "orders") == (0, "orders: published v3 (was v2)\n", "")
    assert cli(api, "flows", "publish", "orders", "--version", "1") == (
        0, "orders: v1 made active again as v4 (was v3)\n", "")
    assert api.bodies("POST", "/flows/orders/publish") == [None, {"version": 1}]
    code, _, err = cli(api, "flows", "publish", "orders")
    assert code == 1 and "has no draft to publish" in err


def test_flows_start_and_stop_print_the_state_of_every_flow_type() -> None:
    api = FakeApi({("POST", "/flows/hook/stop"): (200, {"flowId": "hook", "version": 2, "state": "stopped"}),
                   ("POST", "/flows/rt/start"): (200, {"flowId": "rt", "flowVersion": 5, "state": "starting"})})
    assert cli(api, "flows", "stop", "hook")[1] == "hook: stopped (version 2)\n"
    assert cli(api, "flows", "start", "rt")[1] == "rt: starting (version 5)\n"


# --- send ---------------------------------------------------------------------------------------

ACCEPTED = {"executionId": "orders:k1", "workflowId": "orders:k1", "runId": "r", "requestId": "k1",
            "duplicate": False, "links": {}}


def test_send_takes_the_body_from_an_option_a_file_or_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi({("POST", "/flows/orders/executions"): (202, ACCEPTED)})
    assert cli(api, "send", "orders", "--body", '{"a": 1}', "--idempotency-key", "k1") == (0, "orders:k1\n", "")
    (tmp_path / "body.json").write_text('{"b": [2]}')
    assert cli(api, "send", "orders", "--body-file", str(tmp_path / "body.json"))[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO('{"c": "from stdin"}'))
    assert cli(api, "send", "orders", "--body-file", "-")[0] == 0
    assert cli(api, "send", "orders")[0] == 0
    assert api.bodies("POST", "/flows/orders/executions") == [{"a": 1}, {"b": [2]}, {"c": "from stdin"}, {}]
    first = api.requests[0]
    assert first.headers["idempotency-key"] == "k1" and first.headers["content-type"] == "application/json"
    assert "reply" not in first.url.params and "idempotency-key" not in api.requests[1].headers


def test_send_says_when_the_message_was_a_duplicate_and_prints_json() -> None:
    api = FakeApi({("POST", "/flows/orders/executions"): (202, {**ACCEPTED, "duplicate": True})})
    code, out, err = cli(api, "send", "orders", "--idempotency-key", "k1")
    assert code == 0 and out == "orders:k1\n" and "nothing new started" in err
    assert json.loads(cli(api, "send", "orders", "-o", "json")[1])["duplicate"] is True


def test_send_refused_exits_1() -> None:
    api = FakeApi({("POST", "/flows/orders/executions"): (409, {
        "error": "flow 'orders' is stopped; POST /flows/orders/start takes messages again"})})
    code, out, err = cli(api, "send", "orders")
    assert (code, out) == (1, "") and "is stopped; POST /flows/orders/start" in err


def test_send_wait_prints_the_flows_reply() -> None:
    reply = httpx.Response(201, json={"orderId": 7}, headers={"X-Order": "7"})
    api = FakeApi({("POST", "/flows/orders/executions"): reply})
    code, out, err = cli(api, "send", "orders", "--body", "{}", "--wait")
    assert (code, err) == (0, "") and json.loads(out) == {"orderId": 7}
    assert api.requests[-1].url.params["reply"] == "first" and "timeout" not in api.requests[-1].url.params

    code, out, _ = cli(api, "send", "orders", "--wait", "--reply", "last", "--timeout", "5", "-o", "json")
    answer = json.loads(out)
    assert code == 0 and answer["status"] == 201 and answer["body"] == {"orderId": 7}
    assert answer["headers"]["x-order"] == "7" and "content-length" not in answer["headers"]
    assert dict(api.requests[-1].url.params) == {"reply": "last", "timeout": "5.0"}

    api.routes[("POST", "/flows/orders/executions")] = httpx.Response(200, text="plain words")
    assert cli(api, "send", "orders", "--wait")[1] == "plain words\n"


def test_send_wait_without_a_reply_in_time_exits_4_with_the_execution_id() -> None:
    api = FakeApi({("POST", "/flows/orders/executions"): (504, {
        "error": "the flow gave no answer within 5 s; the run goes on: follow it with the execution id",
        "executionId": "orders:k9"})})  # the API's own words (api/replies.py)
    code, out, err = cli(api, "send", "orders", "--wait", "--timeout", "5")
    assert code == 4 and out == ""
    assert err == ("error: the flow gave no answer within 5 s; the run goes on: follow it with the execution id "
                   "(HTTP 504); conflux runs follow orders:k9\n")
    code, out, _ = cli(api, "send", "orders", "--wait", "-o", "json")
    assert code == 4 and json.loads(out)["executionId"] == "orders:k9"


def test_send_wait_to_an_api_that_did_not_wait_says_so() -> None:
    api = FakeApi({("POST", "/flows/orders/executions"): (202, ACCEPTED)})
    code, out, err = cli(api, "send", "orders", "--wait")
    assert code == 0 and out == "orders:k1\n" and "without waiting for a reply" in err


# --- runs ---------------------------------------------------------------------------------------

def record(step: str, status: str = "ok", **fields: Any) -> dict[str, Any]:
    return {"stepId": step, "component": "transform", "messageId": "k1", "status": status, "emitted": 1,
            "error": None, "errorType": None, "input": {}, "output": {}, "durationMs": 12.4, **fields}


def execution(status: str, *records: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    result = {"status": status.lower(), "records": list(records), "recordsDropped": 0,
              "totals": {"delivered": 1, "filtered": 0, "failed": 0, "stepRuns": len(records)}}
    return {"executionId": "orders:k1", "workflowId": "orders:k1", "status": status, "flowId": "orders",
            "flowName": "Orders", "flowVersion": 2, "startTime": "2026-11-22T12:34:46.737161Z",
            "closeTime": None, "error": error, "result": result if records else None,
            "links": {"temporalUi": "http://ui/orders%3Ak1"}}


def test_runs_follow_prints_each_step_once_and_exits_on_the_outcome() -> None:
    hook, shape = record("hook", component="webhook"), record("shape")
    api = FakeApi({("GET", "/executions/orders:k1"): [
        (200, execution("QUEUED")), (200, execution("RUNNING")), (200, execution("RUNNING", hook)),
        (200, execution("RUNNING", hook)), (200, execution("COMPLETED", hook, shape))]})
    code, out, err = cli(api, "runs", "follow", "orders:k1", "--interval", "0.001")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "orders:k1: QUEUED", "orders:k1: RUNNING",
        "ok     hook (webhook 12 ms) message k1: emitted 1",
        "ok     shape (transform 12 ms) message k1: emitted 1",
        "orders:k1: COMPLETED: delivered 1, filtered 0, failed 0, step runs 2"]
    assert len(api.requests) == 5


def test_runs_follow_json_is_one_event_per_line() -> None:
    hook = record("hook")
    api = FakeApi({("GET", "/executions/orders:k1"): [(200, execution("RUNNING", hook)),
                                                      (200, execution("COMPLETED", hook))]})
    code, out, _ = cli(api, "runs", "follow", "orders:k1", "--interval", "0.001", "-o", "json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["event"] for e in events] == ["step", "end"]
    assert events[0]["record"] == hook and events[1]["execution"]["status"] == "COMPLETED"


def test_runs_follow_a_failed_run_exits_1() -> None:
    boom = record("boom", "failed", error="StepError: no good", errorType="StepError", emitted=0)
    other = record("other", "failed", error="no good", errorType="Rebound", emitted=0)
    api = FakeApi({("GET", "/executions/breaks:k2"): (200, execution("FAILED", boom, other,
                                                                      error="step boom failed"))})
    code, out, err = cli(api, "runs", "follow", "breaks:k2")
    assert code == 1 and "failed boom (transform 12 ms) message k1: StepError: no good\n" in out, "the type once"
    assert "failed other (transform 12 ms) message k1: Rebound: no good\n" in out
    assert err == "error: breaks:k2 ended FAILED: step boom failed\n"


def test_runs_follow_gives_up_after_its_timeout_with_4() -> None:
    api = FakeApi({("GET", "/executions/orders:k1"): (200, execution("RUNNING"))})
    code, _, err = cli(api, "runs", "follow", "orders:k1", "--timeout", "0.05", "--interval", "0.01")
    assert code == 4 and "still RUNNING after 0.05s; it goes on" in err


def test_runs_get_shows_the_run_and_its_steps() -> None:
    failed = execution("FAILED", record("hook"), record("boom", "failed", error="no good", emitted=0),
                       error="step boom failed")
    api = FakeApi({("GET", "/executions/orders:k1"): (200, failed),
                   ("GET", "/executions/orders:k1/b1"): (200, failed)})
    code, out, _ = cli(api, "runs", "get", "orders:k1")
    assert code == 0, "reading a failed run succeeds"
    assert "STATUS     FAILED\n" in out and "FLOW       orders v2 (Orders)" in out
    assert "ERROR      step boom failed" in out
    assert "boom  transform  k1       failed  12  error: no good" in out
    assert json.loads(cli(api, "runs", "get", "orders:k1", "-o", "json")[1]) == failed
    assert cli(api, "runs", "get", "orders:k1/b1")[0] == 0, "a fan-out branch's id reaches the route"


# --- errors -------------------------------------------------------------------------------------

ERROR_ITEM = {"errorId": "e-1", "flowId": "orders", "flowVersion": 2, "executionId": "orders:k1", "messageId": "k1",
              "stepId": "enrich", "error": "HTTP 500 from the CRM", "errorType": "StepFailed", "input": {"a": 1},
              "at": "2026-11-22T12:34:46+00:00", "retries": ["orders:retry-1"]}


def test_errors_list_pages() -> None:
    api = FakeApi({("GET", "/flows/orders/errors"): (200, {"errors": [ERROR_ITEM], "nextPageToken": "p2"})})
    code, out, _ = cli(api, "errors", "list", "orders", "--limit", "1")
    assert code == 0 and dict(api.requests[-1].url.params) == {"limit": "1"}
    assert out.splitlines() == [
        "ERROR ID  AT                   VERSION  STEP    EXECUTION  RETRIES  ERROR",
        "e-1       2026-11-22 12:34:46  2        enrich  orders:k1  1        HTTP 500 from the CRM",
        "", "more: conflux errors list orders --page-token p2"]
    code, out, _ = cli(api, "errors", "list", "orders", "--page-token", "p2", "-o", "json")
    assert dict(api.requests[-1].url.params) == {"pageToken": "p2"}
    assert json.loads(out) == {"errors": [ERROR_ITEM], "nextPageToken": "p2"}
    none = FakeApi({("GET", "/flows/orders/errors"): (200, {"errors": [], "nextPageToken": None})})
    assert cli(none, "errors", "list", "orders") == (0, "", "note: flow 'orders' has no failed messages\n")


def test_errors_retry_sends_the_agreed_body() -> None:
    retried = {"retries": [{"errorId": "e-1", "executionId": "orders:r1", "workflowId": "orders:r1"}]}
    api = FakeApi({("POST", "/flows/orders/errors/retry"): (202, retried)})
    code, out, _ = cli(api, "errors", "retry", "orders", "e-1", "--from-step", "--body", '{"fixed": true}')
    assert code == 0 and "e-1       orders:r1" in out and "conflux runs follow orders:r1" in out
    code, out, _ = cli(api, "errors", "retry", "orders", "e-1", "e-2", "-o", "json")
    assert code == 0 and json.loads(out) == retried
    assert api.bodies("POST", "/flows/orders/errors/retry") == [
        {"errorIds": ["e-1"], "fromStep": True, "body": {"fixed": True}},
        {"errorIds": ["e-1", "e-2"], "fromStep": False}]


def test_errors_retry_of_an_unknown_error_exits_1() -> None:
    api = FakeApi({("POST", "/flows/orders/errors/retry"): (404, {
        "error": "flow 'orders' has no error 'e-9' (GET /flows/orders/errors lists them)"})})
    code, _, err = cli(api, "errors", "retry", "orders", "e-9")
    assert code == 1 and "has no error 'e-9'" in err and "(HTTP 404)" in err

