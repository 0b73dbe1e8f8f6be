"""Payloads encrypted at rest: the codec itself, the /codec endpoint the Temporal UI calls, and a run on
a file-backed Temporal whose database (and the blob folder) must hold no plaintext of its message."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from api.app import create_app
from api.settings import ApiSettings
from catalog.components import load_catalog
from conflux.keys import DecryptFailed, UnknownKey, load_key_ring, new_key_line
from conflux.payload_codec import ENCODING, KEY_ID_FIELD, EncryptionCodec
from conflux.temporal import connect
from steps.protocol import Message
from tests.api_harness import api_settings, api_with_worker
from tests.flow_helpers import make_flow
from tests.waiting import finished
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput
from workflows.search import flow_search_attributes

OLD, NEW = (line.replace(" ", ":", 1) for line in (new_key_line("old"), new_key_line("new")))
UI_ORIGIN = "http://127.0.0.1:8233"


def codec(keys: str) -> EncryptionCodec:
    return EncryptionCodec(load_key_ring(keys, Path("/nonexistent")))


def json_payload(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


# --- the codec -------------------------------------------------------------------------------------

async def test_encode_hides_data_and_metadata_and_decode_restores_both() -> None:
    original = json_payload({"card": "4111-1111"})
    [sealed] = await codec(OLD).encode([original])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID_FIELD] == b"old"
    assert b"4111" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert await codec(OLD).decode([sealed]) == [original]


async def test_after_a_rotation_old_payloads_decode_and_new_ones_use_the_new_key() -> None:
    [old] = await codec(OLD).encode([json_payload("before")])
    rotated = codec(f"{NEW},{OLD}")
    [new] = await rotated.encode([json_payload("after")])
    assert new.metadata[KEY_ID_FIELD] == b"new"
    assert await rotated.decode([old, new]) == [json_payload("before"), json_payload("after")]
    with pytest.raises(UnknownKey, match="'old'"):
        await codec(NEW).decode([old])


async def test_payloads_written_before_the_codec_pass_through() -> None:
    plain = json_payload({"written": "before the codec"})
    assert await codec(OLD).decode([plain]) == [plain]


async def test_a_changed_payload_does_not_decrypt() -> None:
    [sealed] = await codec(OLD).encode([json_payload("x")])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(DecryptFailed):
        await codec(OLD).decode([sealed])


# --- the codec endpoint ----------------------------------------------------------------------------

@pytest.fixture
async def codec_api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(keys=OLD, db_path=tmp_path / "conflux.db", blob_dir=tmp_path / "blobs",
                           temporal_address="127.0.0.1:9")  # the codec needs no Temporal
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
        yield http


def as_json(*payloads: Payload) -> dict[str, Any]:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode()} for p in payloads]}


async def test_the_ui_decodes_through_the_codec_endpoint(codec_api: httpx.AsyncClient) -> None:
    [sealed] = await codec(OLD).encode([json_payload({"n": 1})])
    headers = {"Origin": UI_ORIGIN, "X-Namespace": "default"}
    answer = await codec_api.post("/codec/decode", json=as_json(sealed, json_payload("plain")), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    decoded = answer.json()["payloads"]
    assert [base64.b64decode(p["data"]) for p in decoded] == [b'{"n": 1}', b'"plain"']
    assert base64.b64decode(decoded[0]["metadata"]["encoding"]) == b"json/plain"

    encoded = await codec_api.post("/codec/encode", json=as_json(json_payload("to seal")), headers=headers)
    [payload] = encoded.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING
    back = await codec_api.post("/codec/decode", json=encoded.json())
    assert base64.b64decode(back.json()["payloads"][0]["data"]) == b'"to seal"'
    assert "access-control-allow-origin" not in back.headers, "no Origin, no CORS headers"


async def test_cors_preflight_answers_the_ui_origin_only(codec_api: httpx.AsyncClient) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await codec_api.options("/codec/decode", headers={"Origin": UI_ORIGIN, **asked})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "x-namespace" in allowed.headers["access-control-allow-headers"]
    other = await codec_api.options("/codec/decode", headers={"Origin": "http://evil.example", **asked})
    assert "access-control-allow-origin" not in other.headers


async def test_bad_bodies_and_unknown_keys_are_400_with_cors(codec_api: httpx.AsyncClient) -> None:
    malformed = await codec_api.post("/codec/decode", content=b'{"payloads": 3}', headers={"Origin": UI_ORIGIN})
    assert malformed.status_code == 400 and "protobuf JSON" in malformed.json()["error"]
    assert malformed.headers["access-control-allow-origin"] == UI_ORIGIN, "the UI can read the error"
    not_utf8 = await codec_api.post("/codec/encode", content=b"\xbb\x9a", headers={"Origin": UI_ORIGIN})
    assert not_utf8.status_code == 400 and "protobuf JSON" in not_utf8.json()["error"]  # was a 500 (test_api_fuzz)
    [foreign] = await codec(NEW).encode([json_payload("x")])
    unknown = await codec_api.post("/codec/decode", json=as_json(foreign))
    assert unknown.status_code == 400 and "key 'new'" in unknown.json()["error"]


# --- a run on a file-backed Temporal ---------------------------------------------------------------

MARKER = f"plaintext-marker-{uuid.uuid4().hex}"
ECHO_FLOW: dict[str, Any] = {
    "id": "echo", "name": "Echo", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "copy", "component": "transform", "function": "transform",
                        "config": {"expression": '{"seen": body.note}'}}]}
BREAK_FLOW: dict[str, Any] = {**ECHO_FLOW, "id": "breaks", "name": "Breaks",
              "steps": [{"id": "boom", "component": "transform", "function": "transform",
                         "config": {"expression": f'$error("refused: {MARKER}")'}, "retry": {"max_attempts": 1}}]}


@pytest.fixture(scope="module")
def file_settings(file_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(file_server[0], tmp_path_factory.mktemp("api-at-rest"), "at-rest", keys=OLD,
                        blob_threshold_bytes=2048)


@pytest.fixture(scope="module")
async def file_api(file_settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(file_settings) as http:
        for flow in (ECHO_FLOW, BREAK_FLOW):
            assert (await http.put(f"/flows/{flow['id']}", json=flow)).status_code in (200, 201)
        yield http


def stored_bytes(db_file: Path) -> bytes:
    """The database as it is on disk: the file, its write-ahead log and shared memory."""
    return b"".join(path.read_bytes() for path in db_file.parent.glob(db_file.name + "*"))


@pytest.mark.temporal
async def test_temporal_and_the_blob_folder_keep_no_plaintext_yet_the_api_shows_it(
        file_api: httpx.AsyncClient, file_server: tuple[str, Path], file_settings: ApiSettings) -> None:
    small = await file_api.post("/hooks/echo", json={"note": MARKER})
    large = await file_api.post("/hooks/echo", json={"note": MARKER, "padding": "p" * 8192})
    failing = await file_api.post("/hooks/breaks", json={"note": "fails"})
    shown = {}
    for name, accepted in (("small", small), ("large", large), ("failing", failing)):
        assert accepted.status_code == 202, accepted.text
        shown[name] = await finished(file_api, accepted.json()["executionId"])
    assert shown["small"]["status"] == "COMPLETED" and shown["small"]["result"]["outputs"] == [{"seen": MARKER}]
    assert shown["large"]["status"] == "COMPLETED" and MARKER in json.dumps(shown["large"])
    assert MARKER in json.dumps(shown["failing"]), "the failure's message is decoded for the API"

    blobs = [path.read_bytes() for path in file_settings.blob_dir.rglob("*") if path.is_file()]
    assert blobs, "the large message went to the blob folder"
    assert not [blob for blob in blobs if MARKER.encode() in blob]
    on_disk = stored_bytes(file_server[1])
    assert small.json()["executionId"].encode() in on_disk, "the scan reads what Temporal wrote"
    assert MARKER.encode() not in on_disk
    assert b"padding" not in on_disk and b"refused" not in on_disk


@pytest.mark.temporal
async def test_a_run_started_before_the_codec_still_runs_and_shows(
        file_api: httpx.AsyncClient, file_settings: ApiSettings) -> None:
    """Its input was written in plaintext (an old API): the worker, now encrypting, reads it and goes on."""
    old_api = await connect(file_settings, encrypted=False)
    flow = make_flow(load_catalog(), ECHO_FLOW["steps"], flow_id="echo")
    message_id = f"before-{uuid.uuid4().hex[:8]}"
    run = FlowRunInput(flow=flow, execution_id=message_id, message=Message(id=message_id, body={"note": "old"}))
    await old_api.start_workflow(FlowRunWorkflow.run, run, id=f"echo:{message_id}", task_queue=file_settings.task_queue,
                                 search_attributes=flow_search_attributes(flow))
    status = await finished(file_api, f"echo:{message_id}")
    assert status["status"] == "COMPLETED" and status["result"]["outputs"] == [{"seen": "old"}]
