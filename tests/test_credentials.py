"""Credentials end to end: saved through the API once the component's verifier accepted them in its
container, encrypted in the platform's database, merged into a step's cfg only inside the activity
(ordinary and real-time flows), refreshed by updateKeys, rotated to a new key; never in an API answer
nor in Temporal's history (neither its SQLite file nor its decoded payloads)."""

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message as ProtoMessage
from temporalio.api.common.v1 import Payload

from api.settings import ApiSettings
from catalog.components import load_catalog
from conflux.credential_store import CredentialMissing, CredentialStore
from conflux.keys import DecryptFailed, KeyRing, new_key_line
from conflux.temporal import connect, encryption_codec
from flows.model import Flow
from flows.validation import credential_problems
from tests.api_harness import api_client, api_settings, api_with_worker
from tests.conftest import REPO_ROOT
from tests.loopback import LoopbackServer
from tests.waiting import finished, until

KEYED_DIR = REPO_ROOT / "tests" / "components" / "keyed"
FIRST = new_key_line("first").replace(" ", ":", 1)
MARK = uuid.uuid4().hex
KEY = f"good-{MARK}"
REFRESHED = f"good-refreshed-{MARK}"  # what the keyed component's 'refresh' makes of KEY


# --- fast: the store and the flow check ------------------------------------------------------------

def store_at(folder: Path, *keys: str) -> CredentialStore:
    """A ring of ``keys`` by id; each id always gets the same key material."""
    ring = KeyRing([(key, hashlib.sha256(key.encode()).digest()) for key in keys])
    return CredentialStore(folder / "conflux.db", ring)


def test_the_store_seals_per_credential_merges_refreshed_keys_and_rotates(tmp_path: Path) -> None:
    store = store_at(tmp_path, "a")
    store.create("keyed", store.seal("one", {"api_key": KEY, "account": "x"}))
    store.create("keyed", store.seal("two", {"api_key": "other"}))
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("conflux.db*"))
    assert KEY.encode() not in raw and b"api_key" not in raw

    with pytest.raises(DecryptFailed):  # a sealed value copied onto another credential does not decrypt
        store.open_sealed(store.seal("one", {"api_key": KEY}).model_copy(update={"credential_id": "two"}))
    store.update_fields("one", {"api_key": REFRESHED})
    assert store.fields("one") == {"api_key": REFRESHED, "account": "x"}
    with pytest.raises(CredentialMissing, match="no credential 'gone'"):
        store.fields("gone")

    rotated = store_at(tmp_path, "b", "a")
    assert rotated.reencrypt() == 2 and rotated.reencrypt() == 0
    assert {info.key_id for info in rotated.list()} == {"b"}
    assert store_at(tmp_path, "b").fields("one")["api_key"] == REFRESHED, "the old key is no longer needed"


def test_a_step_names_a_stored_credential_of_its_own_component() -> None:
    flow = Flow.model_validate({
        "id": "f", "name": "F", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
        "steps": [{"id": "a", "component": "keyed", "function": "send", "credential": "missing"},
                  {"id": "b", "component": "greeter", "function": "greet", "credential": "shop"}]})
    problems = credential_problems(flow, {"shop": "keyed", "shop-2": "keyed"})
    assert [(p.where, p.problem) for p in problems] == [
        ("steps[0] (a).credential", "no credential 'missing' is stored (those of 'keyed': shop, shop-2); store one "
                                    "with POST /credentials"),
        ("steps[1] (b).credential", "credential 'shop' belongs to component 'keyed', not 'greeter'; a step uses "
                                    "only a credential of its own component")]


# --- through the API, a worker, Docker and a file-backed Temporal ------------------------------------

@pytest.fixture(scope="module")
def keyed_image(docker_engine) -> str:
    from catalog.build import build_all

    [result] = build_all(component_dirs=[KEYED_DIR], only=["keyed"], report=None)
    return result.image


@pytest.fixture(scope="module")
def settings(file_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(file_server[0], tmp_path_factory.mktemp("credentials"), "creds", keys=FIRST,
                        component_dirs=[KEYED_DIR])


@pytest.fixture(scope="module")
async def api(settings: ApiSettings, keyed_image: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(settings, load_catalog([KEYED_DIR]), runner="docker", timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def target() -> Iterator[LoopbackServer]:
    with LoopbackServer({"/in": lambda method, path, query, body: (200, {"ok": True})}) as server:
        yield server


def send_flow(flow_id: str, url: str, credential: str, **extra: Any) -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
            "steps": [{"id": "send", "component": "keyed", "function": "send", "credential": credential,
                       "network": True, "config": {"url": url, **extra}}]}


def sent(target: LoopbackServer) -> list[tuple[Any, Any, Any]]:
    """(api_key, account, the webhook's body) of each request the keyed component sent."""
    return [(body["api_key"], body["account"], body["body"]["body"])
            for _, path, body in target.received if path == "/in" and isinstance(body, dict)]


class Answers:
    """Every API answer a test got: none may hold a credential's field."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.texts: list[str] = []

    async def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        answer = await self.http.request(method, url, **kwargs)
        self.texts.append(answer.text)
        return answer


@pytest.mark.temporal
async def test_saving_runs_the_verifier_and_answers_no_fields(api: httpx.AsyncClient) -> None:
    call = Answers(api)
    refused = await call("POST", "/credentials", json={"component": "keyed", "fields": {"api_key": "bad-key"}})
    assert refused.status_code == 422, refused.text
    assert "did not verify" in refused.json()["error"] and "must start with 'good-'" in refused.json()["error"]
    missing = await call("POST", "/credentials", json={"component": "keyed", "fields": {"acount": "x"}})
    assert missing.status_code == 422
    assert {p["where"] for p in missing.json()["problems"]} == {"fields.acount", "fields.api_key"}
    none = await call("POST", "/credentials", json={"component": "transform", "fields": {"a": "b"}})
    assert none.status_code == 422 and "declares no credentials" in none.json()["error"]
    assert (await call("GET", "/credentials/shop")).status_code == 404, "a refused credential is not stored"

    saved = await call("POST", "/credentials", json={"id": "shop", "component": "keyed",
                                                     "fields": {"api_key": KEY, "account": "acme"}})
    assert saved.status_code == 201, saved.text
    assert saved.headers["location"] == "/credentials/shop"
    body = saved.json()
    assert body["keyId"] == "first" and body["component"] == "keyed" and body["usedBy"] == []
    assert set(body) == {"id", "component", "keyId", "createdAt", "updatedAt", "usedBy"}
    assert (await call("POST", "/credentials", json={"id": "shop", "component": "keyed",
                                                     "fields": {"api_key": KEY}})).status_code == 409
    made = await call("POST", "/credentials", json={"component": "keyed", "fields": {"api_key": "good-x"}})
    assert made.status_code == 201 and made.json()["id"].startswith("cred-")
    assert (await call("DELETE", f"/credentials/{made.json()['id']}")).status_code == 204
    listed = (await call("GET", "/credentials")).json()["credentials"]
    assert [c["id"] for c in listed] == ["shop"]
    assert not [text for text in call.texts if KEY in text]


@pytest.mark.temporal
async def test_a_step_gets_its_credential_and_writes_back_refreshed_keys(
        api: httpx.AsyncClient, target: LoopbackServer, settings: ApiSettings,
        file_server: tuple[str, Path]) -> None:
    call = Answers(api)
    unknown = await call("PUT", "/flows/keyed-wrong", json=send_flow("keyed-wrong", target.url, "nope"))
    assert unknown.status_code == 422 and "those of 'keyed': shop" in unknown.text
    foreign = send_flow("keyed-foreign", target.url, "shop")
    foreign["steps"].append({"id": "shape", "component": "transform", "function": "transform", "credential": "shop",
                             "config": {"expression": "body"}})
    refused = await call("PUT", "/flows/keyed-foreign", json=foreign)
    assert refused.status_code == 422 and "belongs to component 'keyed', not 'transform'" in refused.text

    flow = send_flow("keyed-send", f"{target.url}/in", "shop", refresh=True)
    assert (await call("PUT", "/flows/keyed-send", json=flow)).status_code == 201
    before = (await call("GET", "/credentials/shop")).json()
    assert before["usedBy"] == ["keyed-send"]
    in_use = await call("DELETE", "/credentials/shop")
    assert in_use.status_code == 409 and "keyed-send" in in_use.json()["error"]

    executions = []
    for n in (1, 2):
        accepted = await call("POST", "/hooks/keyed-send", json={"n": n})
        assert accepted.status_code == 202, accepted.text
        status = await finished(api, accepted.json()["executionId"])
        assert status["status"] == "COMPLETED" and status["result"]["outputs"] == [{"sent": 200}], status
        executions.append(accepted.json()["executionId"])
        call.texts.append(str(status))
    first, second = sent(target)[-2:]
    assert first == (KEY, "acme", {"n": 1}), "the container got the credential"
    assert second == (REFRESHED, "acme", {"n": 2}), "updateKeys was stored and used"

    assert not [text for text in call.texts if KEY in text or REFRESHED in text]
    await no_plaintext_in_temporal(settings, file_server[1], executions, [KEY, REFRESHED])


@pytest.mark.temporal
async def test_a_real_time_flow_gets_the_credential_in_its_warm_container(
        api: httpx.AsyncClient, target: LoopbackServer) -> None:
    stored = await api.post("/credentials", json={"id": "warm", "component": "keyed",
                                                  "fields": {"api_key": "good-warm"}})
    assert stored.status_code == 201, stored.text
    flow = {**send_flow("keyed-rt", f"{target.url}/in", "warm"), "type": "realtime"}
    assert (await api.put("/flows/keyed-rt", json=flow)).status_code == 201
    assert (await api.post("/flows/keyed-rt/start")).status_code == 200
    try:
        assert (await api.post("/hooks/keyed-rt", json={"rt": 1})).status_code == 202
        await until(lambda: ("good-warm", None, {"rt": 1}) in sent(target), "the warm container's request")
        # a changed credential reaches the warm container with the next message, no restart needed
        replaced = await api.put("/credentials/warm", json={"fields": {"api_key": "good-warm-2", "account": "b"}})
        assert replaced.status_code == 200, replaced.text
        assert (await api.post("/hooks/keyed-rt", json={"rt": 2})).status_code == 202
        await until(lambda: ("good-warm-2", "b", {"rt": 2}) in sent(target), "the changed credential")
    finally:
        assert (await api.post("/flows/keyed-rt/stop")).status_code == 200


@pytest.mark.temporal
async def test_metamodel_and_select_options_for_a_step_configuration(api: httpx.AsyncClient) -> None:
    step = {"function": "send", "config": {"url": "http://x", "region": "us"}, "credential": "shop"}
    meta = await api.post("/components/keyed/metamodel", json=step)
    assert meta.status_code == 200, meta.text
    assert meta.json()["out"]["title"] == "sent to us", "the component's get_meta_model saw the config"
    without = await api.post("/components/keyed/metamodel", json={**step, "credential": None})
    assert without.status_code == 422 and "needs the credential's api_key" in without.json()["error"]

    options = await api.post("/components/keyed/select-model", json={**step, "field": "region"})
    assert options.status_code == 200 and options.json() == {"options": {"eu": "Europe", "us": "United States"}}
    static = await api.post("/components/keyed/select-model", json={**step, "field": "format"})
    assert static.json() == {"options": {"json": "JSON"}}
    no_field = await api.post("/components/keyed/select-model", json={**step, "field": "url"})
    assert no_field.status_code == 404 and "fields with a model: region, format" in no_field.json()["error"]
    no_function = await api.post("/components/keyed/metamodel", json={**step, "function": "nope"})
    assert no_function.status_code == 404 and "(it has: send)" in no_function.json()["error"]
    gone = await api.post("/components/keyed/metamodel", json={**step, "credential": "nope"})
    assert gone.status_code == 404 and "GET /credentials" in gone.json()["error"]


@pytest.mark.temporal
async def test_a_key_rotation_reencrypts_the_credentials(
        api: httpx.AsyncClient, settings: ApiSettings, target: LoopbackServer) -> None:
    second = new_key_line("second").replace(" ", ":", 1)
    rotated = settings.model_copy(update={"keys": f"{second},{FIRST}"})
    async with api_client(rotated) as other:  # another API process with the new key first
        moved = await other.post("/credentials/reencrypt")
        assert moved.status_code == 200 and moved.json()["keyId"] == "second"
        assert moved.json()["reencrypted"] == len((await other.get("/credentials")).json()["credentials"])
        assert {c["keyId"] for c in (await other.get("/credentials")).json()["credentials"]} == {"second"}

    # the old key gone, from the API and the worker: a step still gets its credential
    new_only = api_settings(settings.temporal_address, settings.db_path.parent, "creds-rotated", keys=second,
                            component_dirs=[KEYED_DIR])
    async with api_with_worker(new_only, load_catalog([KEYED_DIR]), runner="docker", timeout=60) as http:
        accepted = await http.post("/hooks/keyed-send", json={"n": 3})
        assert accepted.status_code == 202, accepted.text
        status = await finished(http, accepted.json()["executionId"])
        assert status["status"] == "COMPLETED", status
        assert sent(target)[-1] == (REFRESHED, "acme", {"n": 3})
        options = await http.post("/components/keyed/select-model",
                                  json={"function": "send", "field": "region", "credential": "shop"})
        assert options.status_code == 200, options.text


@pytest.mark.temporal
async def test_no_worker_answering_is_a_504_that_says_so(settings: ApiSettings) -> None:
    lonely = settings.model_copy(update={"task_queue": f"nobody-{uuid.uuid4().hex[:6]}", "component_call_timeout": 1})
    async with api_client(lonely) as http:
        answer = await http.post("/credentials", json={"component": "keyed", "fields": {"api_key": "good-late"}})
    assert answer.status_code == 504 and "is a worker running on task queue 'nobody-" in answer.json()["error"]
    assert "good-late" not in answer.text


async def no_plaintext_in_temporal(settings: ApiSettings, db_file: Path, executions: list[str],
                                   secrets: list[str]) -> None:
    """Neither Temporal's file nor any payload of any workflow on this server, decoded as the UI's codec
    endpoint would decode it, holds a credential's field."""
    on_disk = b"".join(path.read_bytes() for path in db_file.parent.glob(db_file.name + "*"))
    assert executions[0].encode() in on_disk, "the scan reads what Temporal wrote"
    assert not [secret for secret in secrets if secret.encode() in on_disk]

    client = await connect(settings)
    codec = encryption_codec(settings)
    decoded = []
    kinds = set()
    async for execution in client.list_workflows():
        kinds.add(execution.workflow_type)
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        decoded += await codec.decode(list(payloads_in(history.events)))
    assert {"FlowRun", "ComponentCall"} <= kinds, kinds
    text = b"".join(payload.data for payload in decoded)
    assert b'"sent":200' in text.replace(b" ", b""), "the decoded payloads are read"
    assert not [secret for secret in secrets if secret.encode() in text]


def payloads_in(messages: Any) -> Iterator[Payload]:
    """Every Payload inside protobuf messages (a history's events), however deep."""
    for message in messages:
        if isinstance(message, Payload):
            yield message
            continue
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].message_type is not None:
                    yield from payloads_in(value.values())
            else:
                yield from payloads_in([value] if isinstance(value, ProtoMessage) else value)  # one, or repeated
