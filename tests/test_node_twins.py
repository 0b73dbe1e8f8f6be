"""Components written for elastic.io's Node.js sailor run unchanged on Conflux's Node.js runtime
and give the same events as their Python twins: one-shot and long-lived, on both runners.

tests/components/twin-node (with an npm dependency) and tests/components/twin-python implement the
same actions; each case sends the same messages to both and compares what came back. A last test
runs a flow of Node.js steps through Temporal and the worker.
"""

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from catalog.build import BUILD_TIMEOUT_SECONDS
from catalog.build_context import install_node_modules
from catalog.components import load_catalog
from conflux.settings import PlatformSettings
from conflux.temporal import connect
from steps.protocol import Message, RequestOutcome, StepRequest
from steps.runner import StepRunner, make_runner
from steps.spec import ContainerSpec
from tests.flow_helpers import make_flow, run_flow
from tests.npm_registry import from_the_npm_registry
from worker.main import running_worker

COMPONENTS = Path(__file__).resolve().parent / "components"
TWINS = {"node": COMPONENTS / "twin-node", "python": COMPONENTS / "twin-python"}


@dataclass(frozen=True)
class Case:
    function: str
    messages: list[dict[str, Any]]  # Message fields, one request each, in order
    cfg: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None


CASES = {
    "callback-emitter": Case("callback", [{"body": {"name": "ada"}}, {"body": {"name": "grace"}}]),
    "promise-return": Case("promise", [{"body": {"a": 2, "b": 3}}], cfg={"unit": "kg"}),
    "many-messages": Case("many", [{"body": {"count": 4}}, {"body": {}}]),
    "rebound": Case("rebound", [{"body": {"order": "A-1"}}]),
    "error": Case("fail", [{"body": {"order": "A-2"}}]),
    "snapshot-update": Case("snapshot", [{"body": {"since": "t1"}}, {"body": {"since": "t2"}},
                                         {"body": {"reset": "t3"}}], snapshot={"polls": 5, "last": "t0"}),
    "hooks": Case("hooks", [{"body": {}}, {"body": {}}], cfg={"name": "orders-db"}),
    "http-reply-and-keys": Case("reply", [{"body": {"user": "u1"}}]),
    "passthrough": Case("passthrough", [{"body": {}, "passthrough": {"hook": {"order": 7}},
                                         "passthroughHeaders": {"hook": {"x-source": "shop"}}}],
                        variables={"region": "eu"}),
}


def requests_of(case: Case) -> list[StepRequest]:
    """The case's messages as requests; only the first carries cfg and snapshot (as a long-lived
    container's would)."""
    return [StepRequest(id=f"r{index}", function=case.function, msg=Message(id=f"m{index}", **message),
                        cfg=case.cfg if index == 0 else None,
                        snapshot=case.snapshot if index == 0 else None, variables=case.variables)
            for index, message in enumerate(case.messages)]


def comparable(outcome: RequestOutcome) -> dict[str, Any]:
    """What a request produced, without what names the language (exception classes, stacks)."""
    return {
        "data": [{"body": m.body, "headers": m.headers, "metadata": m.metadata} for m in outcome.data],
        "error": outcome.error.message if outcome.error else None,
        "rebound": outcome.rebound.message if outcome.rebound else None,
        "snapshot": outcome.snapshot,
        "snapshot_replaced": outcome.snapshot_replaced,
        "keys": outcome.keys,
        "http_reply": outcome.http_reply.model_dump() if outcome.http_reply else None,
        "ended": outcome.ended,
    }


@pytest.fixture(scope="session")
def twin_dirs(node_tools, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The twins as the process runner runs them: the Node one with its npm dependencies installed
    (the image build installs them the same way)."""
    node = tmp_path_factory.mktemp("twins") / "twin-node"
    shutil.copytree(TWINS["node"], node, ignore=shutil.ignore_patterns("node_modules"))
    with from_the_npm_registry("tests/components/twin-node"):
        install_node_modules(node, BUILD_TIMEOUT_SECONDS)
    return {"node": node, "python": TWINS["python"]}


@pytest.fixture(scope="session")
def twin_images(docker_engine, node_tools) -> dict[str, str]:
    from catalog.build import build_all

    with from_the_npm_registry("the twin-node image"):
        results = build_all(component_dirs=list(TWINS.values()), only=["twin-node", "twin-python"], report=None)
    return {result.name.removeprefix("twin-"): result.image for result in results}


def twin_spec(runner: StepRunner, language: str, twin_dirs: dict[str, Path],
              request: pytest.FixtureRequest) -> ContainerSpec:
    image = request.getfixturevalue("twin_images")[language] if runner.kind == "docker" else f"conflux/twin-{language}"
    return ContainerSpec(image=image, component_dir=twin_dirs[language])


async def run_one_shot(runner: StepRunner, spec: ContainerSpec, case: Case) -> list[dict[str, Any]]:
    """Each message in a container of its own, as an ordinary flow runs a step; the snapshot the
    platform keeps goes with the next message."""
    results, snapshot = [], case.snapshot
    for request in requests_of(case):
        request = request.model_copy(update={"cfg": case.cfg, "snapshot": snapshot})
        [outcome] = await runner.run_once(spec, [request], 30)
        results.append(comparable(outcome))
        if outcome.error is None and outcome.rebound is None:
            snapshot = outcome.merged_snapshot(snapshot or {})
    return results


async def run_long_lived(runner: StepRunner, spec: ContainerSpec, case: Case) -> list[dict[str, Any]]:
    """Every message through one container, one request at a time, as a real-time flow runs a step."""
    session = await runner.open(spec)
    try:
        return [comparable(outcome) for request in requests_of(case) for outcome in await session.call([request], 30)]
    finally:
        await session.finish()


EXPECTED: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _result(bodies=(), headers=None, **fields) -> dict[str, Any]:
    """One request's expected comparable outcome."""
    base = {"data": [{"body": body, "headers": headers or {}, "metadata": {}} for body in bodies],
            "error": None, "rebound": None,
            "snapshot": None, "snapshot_replaced": False, "keys": None, "http_reply": None, "ended": True}
    return {**base, **fields}


EXPECTED[("callback-emitter", "both")] = [
    _result([{"greeting": "Hello, Ada"}], headers={"x-style": "callback"}),
    _result([{"greeting": "Hello, Grace"}], headers={"x-style": "callback"}),
]
EXPECTED[("promise-return", "both")] = [_result([{"sum": 5, "unit": "kg"}])]
EXPECTED[("many-messages", "both")] = [_result([{"index": i, "of": 4} for i in range(4)]),
                                      _result([{"index": i, "of": 3} for i in range(3)])]
EXPECTED[("rebound", "both")] = [_result(rebound="target is down for A-1")]
EXPECTED[("error", "both")] = [_result(error="cannot handle order A-2")]
EXPECTED[("snapshot-update", "both")] = [
    _result([{"previous": "t0", "polls": 6}], snapshot={"polls": 6, "last": "t1"}),
    _result([{"previous": "t1", "polls": 7}], snapshot={"polls": 7, "last": "t2"}),
    _result([{"previous": "t2", "polls": 8}], snapshot={"polls": 0, "resetAt": "t3"}, snapshot_replaced=True),
]
EXPECTED[("hooks", "one-shot")] = [  # a container per message: set up for each
    _result([{"connection": {"name": "orders-db", "opened": 1}, "startups": 1, "calls": 1}]),
    _result([{"connection": {"name": "orders-db", "opened": 1}, "startups": 1, "calls": 1}]),
]
EXPECTED[("hooks", "long-lived")] = [  # one container: set up once, kept for every message
    _result([{"connection": {"name": "orders-db", "opened": 1}, "startups": 1, "calls": 1}]),
    _result([{"connection": {"name": "orders-db", "opened": 1}, "startups": 1, "calls": 2}]),
]
EXPECTED[("http-reply-and-keys", "both")] = [
    _result([{"replied": True}], keys={"access_token": "token-u1"},
            http_reply={"statusCode": 201, "body": {"created": "u1"}, "headers": {"x-twin": "yes"}}),
]
EXPECTED[("passthrough", "both")] = [_result([{"fromHook": {"order": 7}, "hookHeader": "shop", "region": "eu"}])]


MODES = {"one-shot": run_one_shot, "long-lived": run_long_lived}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(CASES))
async def test_node_component_gives_the_same_events_as_its_python_twin(name, mode, runner, twin_dirs, request):
    case = CASES[name]
    on_node = await MODES[mode](runner, twin_spec(runner, "node", twin_dirs, request), case)
    on_python = await MODES[mode](runner, twin_spec(runner, "python", twin_dirs, request), case)
    assert on_node == on_python
    assert len(on_node) == len(case.messages) and all(result["ended"] for result in on_node)
    assert on_node == EXPECTED.get((name, mode), EXPECTED.get((name, "both")))


async def test_a_flow_runs_node_steps_with_the_platforms_passthrough(temporal_address, twin_images, component_images,
                                                                     tmp_path):
    """A webhook flow whose two steps are the Node.js component: a fan-out, then a step reading the
    trigger's message from its passthrough in elastic.io's shape."""
    settings = PlatformSettings(temporal_address=temporal_address, task_queue=f"node-{uuid.uuid4().hex[:8]}",
                                blob_dir=tmp_path / "blobs", runner="docker")
    catalog = load_catalog([TWINS["node"]])
    flow = make_flow(catalog, [{"id": "fan", "component": "twin-node", "function": "many",
                                "mapping": {"count": "body.count"}},
                               {"id": "read", "component": "twin-node", "function": "passthrough"}])
    client = await connect(settings)
    async with running_worker(client, settings, make_runner("docker"), catalog):
        _, result = await run_flow(client, settings.task_queue, flow, {"count": 2})
    assert result.status == "completed" and result.totals.delivered == 2
    webhook = {"body": {"count": 2}, "headers": {}, "method": "POST", "query": {}, "path": "", "url": ""}
    assert result.outputs == [{"fromHook": webhook, "hookHeader": None, "region": None}] * 2
