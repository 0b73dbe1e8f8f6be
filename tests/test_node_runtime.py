"""What only the Node.js runtime has: elastic.io's calling conventions (hooks, callbacks, `this`,
the message's shape, service calls) driven with raw request lines, and how the catalog tells a
Node.js component from a Python one and builds its context. The wire contract shared with the
Python runtime is tested in tests/test_runtime_protocol.py."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from catalog.build import BUILD_TIMEOUT_SECONDS
from catalog.build_context import VendoringError, assemble, install_node_modules
from catalog.components import LOCAL_BASE_IMAGE, LOCAL_NODE_BASE_IMAGE, NODE_DOCKERFILE, CatalogError, load_component
from steps.process_channel import node_runtime_command
from steps.protocol import Message, StepRequest
from steps.runner import make_runner
from steps.spec import ContainerSpec
from tests.npm_registry import from_the_npm_registry

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MAIN = REPO_ROOT / "conflux_runtime_node" / "main.js"
TWIN_NODE = REPO_ROOT / "tests" / "components" / "twin-node"
NODE_PROBE = REPO_ROOT / "tests" / "components" / "probe-node"

pytestmark = pytest.mark.usefixtures("node_tools")


def component(directory: Path, modules: dict[str, str], **descriptor) -> Path:
    """A Node.js component with one action per module: ``{"a": "exports.process = ..."}``."""
    actions = {name: {"main": f"./lib/{name}.js"} for name in modules}
    (directory / "lib").mkdir()
    for name, source in modules.items():
        (directory / "lib" / f"{name}.js").write_text(source)
    (directory / "component.json").write_text(json.dumps({"title": "t", "version": "1", "actions": actions,
                                                          **descriptor}))
    return directory


def run_node(directory: Path, requests: list[dict]) -> tuple[list[dict], str, int]:
    done = subprocess.run(node_runtime_command("node", str(NODE_MAIN), str(directory)), capture_output=True,
                          text=True, timeout=30, input="".join(json.dumps(r) + "\n" for r in requests))
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def process(request_id: str, function: str, msg: dict | None = None, **fields) -> dict:
    return {"id": request_id, "type": "process", "function": function, "msg": msg or {"body": {}}, **fields}


def events_of(events: list[dict], request_id: str) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "id"} for e in events if e.get("id") == request_id]


def test_hooks_run_startup_then_init_before_the_first_message_and_shutdown_at_the_end(tmp_path):
    hooks = ("const log = (what) => process.stderr.write(`hook: ${what}\\n`);\n"
             "exports.startup = async (cfg) => { log(`startup ${cfg.db}`); return { token: 't1' }; };\n"
             "exports.init = async (cfg) => log(`init ${cfg.db}`);\n"
             "exports.process = async function (msg) { log(`process ${msg.body.n}`); return { body: msg.body }; };\n"
             "exports.shutdown = async (cfg, data) => log(`shutdown ${cfg.db} ${data.token}`);\n")
    events, stderr, code = run_node(component(tmp_path, {"a": hooks}),
                                    [process("1", "a", {"body": {"n": 1}}, cfg={"db": "orders"}),
                                     process("2", "a", {"body": {"n": 2}})])
    assert [line for line in stderr.splitlines() if line.startswith("hook:")] == [
        "hook: startup orders", "hook: init orders", "hook: process 1", "hook: process 2", "hook: shutdown orders t1"]
    assert [e["type"] for e in events] == ["ready", "data", "end", "data", "end"]
    assert code == 0


def test_a_failing_init_fails_the_message_and_is_tried_again_with_the_next(tmp_path):
    source = ("let tries = 0;\n"
              "exports.init = async () => { tries += 1; if (tries === 1) throw new Error('database not up yet'); };\n"
              "exports.process = async function () { return { body: { tries } }; };\n")
    events, _, _ = run_node(component(tmp_path, {"a": source}), [process("1", "a"), process("2", "a")])
    assert events_of(events, "1")[0]["error"]["message"] == "database not up yet"
    assert events_of(events, "2")[0] == {"type": "data", "msg": {"body": {"tries": 2}}}


def test_a_callback_that_throws_later_fails_its_message_and_serving_goes_on(tmp_path):
    source = ("exports.process = function (msg) {\n"
              "  setTimeout(() => { if (msg.body.boom) throw new RangeError('late boom');\n"
              "                     this.emit('data', { body: 'fine' }); this.emit('end'); }, 5);\n"
              "};\n")
    events, _, code = run_node(component(tmp_path, {"a": source}),
                               [process("1", "a", {"body": {"boom": True}}), process("2", "a")])
    [error, end] = events_of(events, "1")
    assert (error["error"]["name"], error["error"]["message"], end) == ("RangeError", "late boom", {"type": "end"})
    assert events_of(events, "2") == [{"type": "data", "msg": {"body": "fine"}}, {"type": "end"}]
    assert code == 0


def test_what_is_emitted_after_end_is_dropped_with_a_warning(tmp_path):
    source = ("exports.process = async function () {\n"
              "  await this.emit('data', { body: 1 }); await this.emit('end');\n"
              "  const late = await this.emit('data', { body: 2 });\n"
              "  this.logger.info('late emit returned %s', late);\n"
              "};\n")
    events, stderr, _ = run_node(component(tmp_path, {"a": source}), [process("1", "a"), process("2", "a")])
    assert events_of(events, "1") == [{"type": "data", "msg": {"body": 1}}, {"type": "end"}]
    assert "'data' emitted after end was ignored" in stderr and "late emit returned false" in stderr


def test_the_message_has_elasticio_shape_and_this_has_logger_and_flow_variables(tmp_path):
    source = ("exports.process = async function (msg, cfg, snapshot) {\n"
              "  this.logger.warn({ order: msg.body.order }, 'seen %s', 'it');\n"
              "  this.logger.fatal('very bad');\n"
              "  return { body: { msg, cfg, snapshot, variables: this.getFlowVariables() },\n"
              "           headers: { 'x-out': '1' }, metadata: { trace: 'abc' }, attachments: {} };\n"
              "};\n")
    msg = {"id": "m1", "body": {"order": 7}, "passthrough": {"hook": {"a": 1}, "map": {"b": 2}},
           "passthroughHeaders": {"hook": {"x-in": "h"}}, "method": "POST", "path": "x/y", "idempotencyKey": "f/m1/s"}
    request = process("1", "a", msg, cfg={"k": "v"}, snapshot={"s": 1}, variables={"region": "eu"})
    events, stderr, _ = run_node(component(tmp_path, {"a": source}), [request])
    [data, _] = events_of(events, "1")
    assert data["msg"]["headers"] == {"x-out": "1"} and data["msg"]["metadata"] == {"trace": "abc"}
    assert "attachments" not in data["msg"], "empty parts are left out, as the Python runtime does"
    assert data["msg"]["body"] == {
        "msg": {"id": "m1", "body": {"order": 7}, "headers": {}, "attachments": {}, "metadata": {},
                "passthrough": {"hook": {"body": {"a": 1}, "headers": {"x-in": "h"}, "stepId": "hook"},
                                "map": {"body": {"b": 2}, "headers": {}, "stepId": "map"}},
                "method": "POST", "path": "x/y", "idempotencyKey": "f/m1/s"},
        "cfg": {"k": "v"}, "snapshot": {"s": 1}, "variables": {"region": "eu"}}
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"level": "warning", "msg": "seen it", "order": 7, "id": "1"}.items() <= logs[0].items()
    assert logs[1]["level"] == "critical"


def test_a_returned_value_without_body_is_the_body_and_a_falsy_one_emits_nothing(tmp_path):
    events, _, _ = run_node(component(tmp_path, {"plain": "exports.process = async () => [1, 2];\n",
                                                 "nothing": "exports.process = async () => null;\n"}),
                            [process("1", "plain"), process("2", "nothing")])
    assert events_of(events, "1") == [{"type": "data", "msg": {"body": [1, 2]}}, {"type": "end"}]
    assert events_of(events, "2") == [{"type": "end"}]


def test_service_calls_in_callback_and_promise_style(tmp_path):
    module = ("exports.process = async () => null;\n"
              "exports.getMetaModel = function (cfg, callback) {\n"
              "  callback(null, { in: { type: 'object' }, out: {} });\n"
              "};\n"
              "exports.listTables = async function (cfg) { return { orders: `Orders in ${cfg.db}` }; };\n")
    (tmp_path / "verifyCredentials.js").write_text(
        "module.exports = function verify(cfg, cb) { if (cfg.key !== 'good') return cb(new Error('wrong key'));"
        " cb(null, { verified: true }); };\n")
    events, _, _ = run_node(component(tmp_path, {"a": module}), [
        {"id": "v1", "type": "verifyCredentials", "cfg": {"key": "good"}},
        {"id": "v2", "type": "verifyCredentials", "cfg": {"key": "bad"}},
        {"id": "m", "type": "getMetaModel", "function": "a", "cfg": {}},
        {"id": "s", "type": "selectModel", "function": "a", "method": "listTables", "cfg": {"db": "shop"}},
        {"id": "x", "type": "selectModel", "function": "a", "method": "nope", "cfg": {}},
    ])
    results = {e["id"]: e["result"] for e in events if e["type"] == "result"}
    assert results == {"v1": {"verified": True}, "v2": {"verified": False, "reason": "wrong key"},
                       "m": {"in": {"type": "object"}, "out": {}}, "s": {"orders": "Orders in shop"}}
    assert events_of(events, "x")[0]["error"]["message"] == "'a' has no select-model function 'nope'"


def test_a_main_that_is_not_there_is_fatal_at_start(tmp_path):
    (tmp_path / "component.json").write_text(json.dumps(
        {"title": "t", "version": "1", "actions": {"a": {"main": "./lib/missing.js"}}}))
    events, _, code = run_node(tmp_path, [])
    assert events == [{"type": "fatal", "error": {
        "name": "ComponentError", "message": "module ./lib/missing.js not found in the component directory"}}]
    assert code == 2


def test_started_without_the_launchs_events_fd_it_says_how_to_start_it(tmp_path):
    done = subprocess.run(["node", str(NODE_MAIN), str(NODE_PROBE)], capture_output=True, text=True, timeout=30,
                          input="")
    assert (done.returncode, done.stdout) == (2, "")
    assert "writes its events to fd 3, which this process was not given" in done.stderr
    assert "3>&1 1>&2" in done.stderr


def test_the_images_entrypoint_is_the_process_runners_launch():
    """One launch (events on fd 3, fd 1 to stderr) for both runners: the Dockerfile cannot drift from it."""
    [entrypoint] = [line for line in NODE_DOCKERFILE.read_text().splitlines() if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == node_runtime_command(
        "node", "/opt/conflux/runtime/main.js", "/component")


@pytest.fixture(scope="module")
def probe_node_image(docker_engine) -> str:
    from catalog.build import build_all

    [result] = build_all(component_dirs=[NODE_PROBE], only=["probe-node"], report=None)
    return result.image


@pytest.mark.parametrize("kind", ["process", "docker"])
async def test_writes_to_fd_1_do_not_corrupt_the_events_on_either_runner(kind, request):
    """A raw fs.writeSync(1) and a child inheriting stdio, in the image as on the host."""
    image = request.getfixturevalue("probe_node_image") if kind == "docker" else "conflux/probe-node"
    spec = ContainerSpec(image=image, component_dir=NODE_PROBE)
    requests = [StepRequest(id=f"r{n}", function="writes_to_fd1", msg=Message(id=f"m{n}", body={"n": n}))
                for n in range(2)]
    outcomes = await make_runner(kind).run_once(spec, requests, 30)
    assert [(o.error, [m.body for m in o.data], o.ended) for o in outcomes] == [(None, [{"n": 0}], True),
                                                                               (None, [{"n": 1}], True)]


def test_one_module_that_does_not_load_makes_the_whole_component_fatal(tmp_path):
    """Unlike the sailor, which loads only the step's module: the protocol's fatal-at-start rule."""
    events, _, code = run_node(component(tmp_path, {"fine": "exports.process = async () => ({ body: 1 });\n",
                                                    "broken": "require('no_such_module');\n"}),
                               [process("1", "fine")])
    assert [e["type"] for e in events] == ["fatal"] and "no_such_module" in events[0]["error"]["message"]
    assert code == 2


# --- the catalog's side ------------------------------------------------------------------------------


def test_the_catalog_tells_node_components_from_python_ones(tmp_path):
    node = load_component(TWIN_NODE)
    assert node.runtime == "node" and node.base_image == LOCAL_NODE_BASE_IMAGE
    python = load_component(REPO_ROOT / "tests" / "components" / "twin-python")
    assert python.runtime == "python" and python.base_image == LOCAL_BASE_IMAGE
    plain = tmp_path / "plain"
    plain.mkdir()
    component(plain, {"a": "exports.process = async () => null;\n"})
    assert load_component(plain).runtime == "node", "JavaScript mains make a Node.js component, package.json or not"


def test_a_node_components_digest_follows_its_node_base_and_package_lock(tmp_path):
    copy = tmp_path / "twin-node"
    shutil.copytree(TWIN_NODE, copy)
    first = load_component(copy)
    assert load_component(copy, node_base_image="node:20-slim").digest != first.digest
    assert load_component(copy, base_image="python:3.11-slim").digest == first.digest, "the Python base is not its"
    (copy / "package-lock.json").write_text((copy / "package-lock.json").read_text().replace("4.17.21", "4.17.20"))
    assert load_component(copy).digest != first.digest


def test_a_node_main_that_is_missing_is_refused_by_the_catalog(tmp_path):
    (tmp_path / "component.json").write_text(json.dumps(
        {"title": "t", "version": "1", "actions": {"a": {"main": "./lib/a.js"}}}))
    with pytest.raises(CatalogError, match=r"actions.a.main names ./lib/a.js, which is not in"):
        load_component(tmp_path)


def test_the_build_context_holds_the_runtime_and_the_installed_dependencies(tmp_path):
    with from_the_npm_registry("tests/components/twin-node"):
        context = assemble(load_component(TWIN_NODE), tmp_path, BUILD_TIMEOUT_SECONDS)
    assert (context / "Dockerfile").read_text().startswith("# The Dockerfile of every Node.js component")
    assert sorted(p.name for p in (context / "runtime").iterdir()) == sorted(
        p.name for p in NODE_MAIN.parent.glob("*.js"))
    assert json.loads((context / "component" / "node_modules" / "lodash" / "package.json").read_text())["version"] \
        == "4.17.21"


def path_with_fake_npm(directory: Path, script: str) -> str:
    """Make ``directory`` a component that depends on a package; a PATH whose `npm` runs ``script``."""
    tools = directory / "bin"
    tools.mkdir()
    (tools / "npm").write_text(f"#!/bin/sh\n{script}\n")
    (tools / "npm").chmod(0o755)
    component(directory, {"a": "exports.process = async () => null;\n"})
    (directory / "package.json").write_text(json.dumps({"name": "a", "dependencies": {"left-pad": "^1.3.0"}}))
    return f"{tools}{os.pathsep}{os.environ['PATH']}"


def test_npm_that_does_not_finish_in_time_is_a_vendoring_error_saying_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_with_fake_npm(tmp_path, "exec sleep 60"))
    with pytest.raises(VendoringError, match=r"did not finish within 0.5s \(`npm install`\): check that this host "
                                             r"reaches the npm registry"):
        install_node_modules(tmp_path, 0.5)


def test_npm_that_fails_names_the_component_and_npms_own_words(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_with_fake_npm(tmp_path, "echo 'npm error code E404' >&2; exit 1"))
    with pytest.raises(VendoringError, match=r"(?s)of /origin/package.json failed \(`npm install` exit 1; is the npm "
                                             r"registry reachable.*E404"):
        install_node_modules(tmp_path, 30, origin=Path("/origin"))


def test_a_component_without_a_lock_file_builds_with_a_warning_that_versions_may_drift(tmp_path, monkeypatch,
                                                                                       caplog):
    monkeypatch.setenv("PATH", path_with_fake_npm(tmp_path, "exit 0"))
    install_node_modules(tmp_path, 30)
    assert "has no package-lock.json: `npm install` resolves its dependencies' versions now" in caplog.text
    caplog.clear()
    (tmp_path / "package-lock.json").write_text("{}")
    install_node_modules(tmp_path, 30)
    assert "package-lock.json" not in caplog.text, "with a lock file `npm ci` installs exactly what it names"
