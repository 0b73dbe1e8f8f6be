"""Schemathesis over the API's own OpenAPI spec, against the real app on a real Temporal server:
whatever a client sends, valid for the spec or not, the API answers without a server error (5xx,
or an exception the app let through). Schemathesis's own engine runs it, as its CLI would: the
coverage phase (boundary and invalid values of every parameter and body) and a few fuzzed examples
per operation, derived from the spec, the same on every run; its stateful phase (links between
operations) is off. With the API's tokens off (every route's own checks) and on without a token
(401s are fine there; the webhooks and /healthz still do their work)."""

from pathlib import Path

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import events
from starlette.testclient import TestClient

from api.app import create_app
from tests.api_harness import api_settings

pytestmark = pytest.mark.temporal

EXAMPLES = 5  # fuzzed examples per operation, beside the coverage phase's; more: slower than a minute in CI
FLOW = {"id": "fuzzed", "name": "Fuzzed", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [{"id": "shape", "component": "transform", "function": "transform",
                   "config": {"expression": "{'n': body.n}"}}]}
CONFIG = {"generation": {"max-examples": EXAMPLES, "deterministic": True}, "workers": 1,
          "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
          "phases": {"stateful": {"enabled": False}}}


def problems(schema: schemathesis.BaseSchema) -> list[str]:
    """What the run found: a request answered 5xx, an exception out of the app, a spec that cannot
    be fuzzed (an operation the engine had to leave out)."""
    found: list[str] = []
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            found += [f"{event.recorder.label}: {check.name}: {check.failure_info.failure}\n  "
                      f"{check.failure_info.code_sample}"
                      for checks in event.recorder.checks.values() for check in checks
                      if check.failure_info is not None]
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            found.append(f"the engine stopped: {event.exception!r}")
    return sorted(set(found))


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_no_request_gets_a_server_error(auth: bool, temporal_address: str, tmp_path: Path) -> None:
    settings = api_settings(temporal_address, tmp_path, "fuzz", api_auth=auth, key_file=tmp_path / "keys")
    app = create_app(settings)  # it connects to Temporal on first use, in the engine's thread
    if not auth:  # a flow to name: fuzzed ids that hit it reach deeper than a 404
        with TestClient(app) as client:
            assert client.put("/flows/fuzzed", json=FLOW).status_code in (200, 201)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))
    found = problems(schema)
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)
