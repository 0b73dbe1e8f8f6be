"""Every built-in component through both runners: the same input gives the same outcome."""

from typing import Any, Literal

import pytest

from steps.protocol import Message, RequestOutcome, StepRequest
from steps.runner import make_runner
from steps.spec import ContainerSpec
from tests.loopback import LoopbackServer

CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "webhook": ("receive", {"body": {"a": 1}, "method": "POST", "path": "x/y", "query": {"q": "1"},
                            "headers": {"content-type": "application/json"}}, {}),
    "transform": ("transform", {"body": {"a": 2}, "passthrough": {"hook": {"b": 3}}},
                  {"expression": "{'sum': a + $steps.hook.b}"}),
    "code": ("run", {"body": {"n": 4}}, {"code": "return {'square': msg['body']['n'] ** 2}"}),
    "splitter": ("split", {"body": {"items": [1, 2, 3]}}, {"path": "items"}),
    "router": ("route", {"body": {"total": 500}}, {"branches": [{"id": "small", "when": "total < 100"},
                                                                {"id": "big", "when": "total > 100"}]}),
    "aggregate": ("aggregate", {"body": [{"sku": "a"}, {"sku": "b"}]}, {"expression": "{'lines': $}"}),
}


def comparable(outcome: RequestOutcome) -> dict:
    """The outcome without what differs by the second (an HTTP Date header)."""
    return {
        "data": [_without_date(m.body) for m in outcome.data],
        "error": outcome.error.name if outcome.error else None,
        "rebound": bool(outcome.rebound),
        "snapshot": outcome.snapshot,
    }


def _without_date(body):
    if isinstance(body, dict) and isinstance(body.get("headers"), dict):
        return {**body, "headers": {k: v for k, v in body["headers"].items() if k.lower() != "date"}}
    return body


async def run_both(info, function: str, msg: dict, cfg: dict, network: Literal["none", "host"] = "none") -> list[dict]:
    results = []
    for kind in ("process", "docker"):
        spec = ContainerSpec(image=info.image, component_dir=info.directory, network=network)
        request = StepRequest(id="r", function=function, msg=Message(id="m", **msg), cfg=cfg)
        [outcome] = await make_runner(kind).run_once(spec, [request], 30)
        results.append(comparable(outcome))
    return results


@pytest.mark.parametrize("name", sorted(CASES))
async def test_builtin_gives_the_same_result_on_both_runners(name, component_images):
    function, msg, cfg = CASES[name]
    on_process, on_docker = await run_both(component_images[name], function, msg, cfg)
    assert on_process == on_docker
    assert on_process["data"] and on_process["error"] is None


async def test_http_request_on_both_runners(component_images):
    with LoopbackServer({"/ok": lambda *a: (200, {"hello": "world"}), "/down": lambda *a: (503, {}),
                         "/missing": lambda *a: (404, {"error": "nope"})}) as server:
        info = component_images["http-request"]
        ok = await run_both(info, "request", {"body": {}}, {"url": f"{server.url}/ok"}, network="host")
        down = await run_both(info, "request", {"body": {}}, {"url": f"{server.url}/down"}, network="host")
        missing = await run_both(info, "request", {"body": {}}, {"url": f"{server.url}/missing"}, network="host")
    assert ok[0] == ok[1] and ok[0]["data"][0]["status"] == 200 and ok[0]["data"][0]["body"] == {"hello": "world"}
    assert down[0] == down[1] and down[0]["rebound"]
    assert missing[0] == missing[1] and missing[0]["error"]


async def test_http_request_without_network_rebounds_in_a_container(component_images):
    """Network 'none' is the default: a step that did not ask for the network cannot reach anything."""
    with LoopbackServer({"/ok": lambda *a: (200, {})}) as server:
        info = component_images["http-request"]
        spec = ContainerSpec(image=info.image, network="none")
        request = StepRequest(id="r", function="request", msg=Message(body={}), cfg={"url": f"{server.url}/ok"})
        [outcome] = await make_runner("docker").run_once(spec, [request], 30)
    assert outcome.rebound is not None and not outcome.data


async def test_poll_http_on_both_runners(component_images):
    records = [{"id": 1, "updated_at": "2026-01-01T00:00:00Z"}, {"id": 2, "updated_at": "2026-01-02T00:00:00Z"}]
    with LoopbackServer({"/records": lambda *a: (200, records)}) as server:
        results = await run_both(component_images["poll-http"], "poll", {"body": {}},
                                 {"url": f"{server.url}/records"}, network="host")
    assert results[0] == results[1]
    assert [r["id"] for r in results[0]["data"]] == [1, 2]
    assert results[0]["snapshot"]["since"].startswith("2026-01-02")


ROUTES = [{"id": "big", "when": "total > 100"}, {"id": "eu", "when": "region = $getFlowVariables().home"}]
ROUTING_CASES: list[tuple[str, str, dict, dict]] = [
    ("route", "route", {"body": {"total": 500, "region": "eu"}}, {"branches": ROUTES, "default": "default"}),
    ("route-all", "route", {"body": {"total": 500, "region": "eu"}}, {"mode": "all", "branches": ROUTES}),
    ("route-default", "route", {"body": {"total": 5, "region": "us"}}, {"branches": ROUTES, "default": "rest"}),
    ("route-bad-mode", "route", {"body": {}}, {"mode": "some", "branches": ROUTES}),
    ("join", "aggregate", {"body": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "a", "qty": 3}]}, {}),
    ("join-by-key", "aggregate", {"body": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "a", "qty": 3}]},
     {"key": "sku", "expression": "{'sku': key, 'qty': $sum(parts.qty)}"}),
    ("join-not-a-group", "aggregate", {"body": {"sku": "a"}}, {}),
    ("split", "split", {"id": "m7", "body": {"items": ["x", "y"]}}, {"path": "items"}),
]


async def test_router_aggregate_and_split_metadata_on_both_runners(component_images):
    """What the workflow reads (metadata.branch, metadata.split) and what the aggregate makes of the
    gathered parts, alike in a process and in a container."""
    answers = []
    for kind in ("process", "docker"):
        outcomes = {}
        for name, function, msg, cfg in ROUTING_CASES:
            component = {"route": "router", "aggregate": "aggregate", "split": "splitter"}[function]
            info = component_images[component]
            request = StepRequest(id=name, function=function, msg=Message(**msg), cfg=cfg, variables={"home": "eu"})
            [outcome] = await make_runner(kind).run_once(
                ContainerSpec(image=info.image, component_dir=info.directory), [request], 30)
            error = outcome.error.name if outcome.error else None
            outcomes[name] = ([(m.body, m.metadata) for m in outcome.data], error)
        answers.append(outcomes)
    on_process, on_docker = answers
    assert on_process == on_docker
    big = {"total": 500, "region": "eu"}
    assert on_process["route"] == ([(big, {"branch": "big"})], None)
    assert on_process["route-all"] == ([(big, {"branch": "big"}), (big, {"branch": "eu"})], None)
    assert on_process["route-default"] == ([({"total": 5, "region": "us"}, {"branch": "rest"})], None)
    assert on_process["route-bad-mode"] == ([], "ExpressionError")
    assert on_process["join"][0][0][0] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "a", "qty": 3}]
    assert [body for body, _ in on_process["join-by-key"][0]] == [{"sku": "a", "qty": 4}, {"sku": "b", "qty": 2}]
    assert on_process["join-not-a-group"] == ([], "NotAGroup")
    assert on_process["split"] == ([("x", {"split": {"group": "m7", "index": 0, "count": 2}}),
                                    ("y", {"split": {"group": "m7", "index": 1, "count": 2}})], None)
