"""Webhook authentication per flow: HTTP basic, an API key, an HMAC signature with replay
protection. The checks on their own, then through the API with a real Temporal dev server and
worker (process runner): a refused request starts nothing, and no key reaches the flow."""

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.errors import ApiError
from api.settings import ApiSettings
from api.webhook_auth import check_webhook_auth
from conflux.keys import new_key_line
from flows.model import Flow
from tests.api_harness import api_client, api_settings, api_with_worker
from tests.waiting import finished

HOOK = {"id": "hook", "component": "webhook", "function": "receive"}
BODY = b'{"order": 1}'


def flow_with(auth: dict[str, Any], flow_id: str = "guarded") -> dict[str, Any]:
    return {"id": flow_id, "name": flow_id, "trigger": HOOK, "steps": [], "webhook_auth": auth}


def check(auth: dict[str, Any], headers: dict[str, str], query: dict[str, str] | None = None, body: bytes = BODY,
          secret: str | None = "s3cret", now: float = 1_000_000.0) -> int:
    """The status the check answers (200: passed)."""
    try:
        check_webhook_auth(Flow.model_validate(flow_with(auth)), secret, {k.lower(): v for k, v in headers.items()},
                           query or {}, body, now)
    except ApiError as error:
        assert "s3cret" not in error.error, "a secret is never echoed"
        return error.status
    return 200


def signature(secret: str, content: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), content, getattr(hashlib, algorithm)).hexdigest()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic() -> None:
    auth = {"type": "basic", "username": "shop", "secret": "hook-pass"}
    assert check(auth, basic("shop", "s3cret")) == 200
    assert check(auth, {}) == 401
    assert check(auth, basic("shop", "guess")) == 403
    assert check(auth, basic("other", "s3cret")) == 403
    assert check(auth, {"Authorization": "Basic !!!"}) == 403


def test_api_key_in_a_header_or_the_query() -> None:
    assert check({"type": "api_key", "secret": "k"}, {"X-API-Key": "s3cret"}) == 200
    assert check({"type": "api_key", "secret": "k", "header": "X-Shop-Key"}, {"X-API-Key": "s3cret"}) == 401
    assert check({"type": "api_key", "secret": "k"}, {"X-API-Key": "nope"}) == 403
    assert check({"type": "api_key", "secret": "k", "query": "key"}, {}, {"key": "s3cret"}) == 200
    assert check({"type": "api_key", "secret": "k", "query": "key"}, {}, {"key": "nope"}) == 403


def test_hmac_signature_with_and_without_a_timestamp() -> None:
    plain = {"type": "hmac", "secret": "k", "header": "X-Hub-Signature-256", "signature_prefix": "sha256="}
    assert check(plain, {"X-Hub-Signature-256": "sha256=" + signature("s3cret", BODY)}) == 200
    assert check(plain, {"X-Hub-Signature-256": "sha256=" + signature("s3cret", b"{}")}) == 403
    assert check(plain, {}) == 401
    assert check({"type": "hmac", "secret": "k", "algorithm": "sha512"},
                 {"X-Signature": signature("s3cret", BODY, "sha512")}) == 200
    stamped = {"type": "hmac", "secret": "k", "timestamp_header": "X-Timestamp", "tolerance_seconds": 300}
    now = 1_000_000.0

    def signed_at(at: float) -> dict[str, str]:
        return {"X-Timestamp": str(int(at)), "X-Signature": signature("s3cret", f"{int(at)}.".encode() + BODY)}

    assert check(stamped, signed_at(now - 100), now=now) == 200
    assert check(stamped, signed_at(now - 301), now=now) == 403, "a replay"
    assert check(stamped, signed_at(now + 301), now=now) == 403
    assert check(stamped, {"X-Signature": signature("s3cret", BODY)}, now=now) == 401
    assert check(stamped, {"X-Timestamp": "soon", "X-Signature": "00"}, now=now) == 403


def test_a_secret_that_is_not_stored_is_503_and_definitions_must_name_one() -> None:
    assert check({"type": "api_key", "secret": "k"}, {"X-API-Key": "s3cret"}, secret=None) == 503
    for bad in ({"type": "basic", "secret": "k"}, {"type": "hmac"}, {"type": "basic", "username": "u", "secret": "k",
                                                                   "query": "q"}):
        with pytest.raises(ValueError):
            Flow.model_validate(flow_with(bad))
    with pytest.raises(ValueError, match="webhook triggers"):
        Flow.model_validate({**flow_with({"type": "api_key", "secret": "k"}), "trigger": {
            **HOOK, "component": "poll-http", "function": "poll", "type": "polling", "interval": 60}})


# --- through the API ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def settings(temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    return api_settings(temporal_address, tmp_path_factory.mktemp("webhook-auth"), "auth", keys=new_key_line("first"))


@pytest.fixture(scope="module")
async def api(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_with_worker(settings) as http:
        yield http


@pytest.mark.temporal
async def test_a_guarded_webhook_runs_only_for_its_callers_and_keeps_the_key_out(api: httpx.AsyncClient) -> None:
    refused = await api.put("/flows/keyed", json=flow_with({"type": "api_key", "secret": "shop-key", "query": "key"},
                                                           "keyed"))
    assert refused.status_code == 422 and "PUT /secrets/shop-key" in refused.text
    stored = await api.put("/secrets/shop-key", json={"value": "s3cret"})
    assert stored.status_code == 201 and "s3cret" not in stored.text and stored.json()["keyId"] == "first"
    saved = await api.put("/flows/keyed", json=flow_with({"type": "api_key", "secret": "shop-key", "query": "key"},
                                                         "keyed"))
    assert saved.status_code == 201, saved.text

    wrong_id = f"wrong-{uuid.uuid4().hex[:6]}"
    wrong = await api.post("/hooks/keyed?key=guess", content=BODY, headers={"Idempotency-Key": wrong_id})
    assert wrong.status_code == 403 and "s3cret" not in wrong.text
    assert (await api.post("/hooks/keyed", content=BODY)).status_code == 401
    assert (await api.get(f"/executions/keyed:{wrong_id}")).status_code == 404, "a refused request starts nothing"

    right = await api.post("/hooks/keyed?key=s3cret&source=shop", content=BODY,
                           headers={"content-type": "application/json"})
    assert right.status_code == 202, right.text
    status = await finished(api, right.json()["executionId"])
    request = status["result"]["outputs"][0]
    assert request["query"] == {"source": "shop"} and "s3cret" not in str(request), "the key never reaches the flow"

    listed = (await api.get("/secrets")).json()["secrets"]
    assert listed == [{"name": "shop-key", "keyId": "first", "updatedAt": listed[0]["updatedAt"], "usedBy": ["keyed"]}]
    in_use = await api.delete("/secrets/shop-key")
    assert in_use.status_code == 409 and "keyed" in in_use.json()["error"]


@pytest.mark.temporal
async def test_a_rollback_to_a_version_naming_a_deleted_secret_is_refused(api: httpx.AsyncClient) -> None:
    assert (await api.put("/secrets/old-key", json={"value": "x"})).status_code == 201
    guarded = flow_with({"type": "api_key", "secret": "old-key", "header": "x-key"}, "rolled")
    assert (await api.put("/flows/rolled", json=guarded)).status_code == 201
    assert (await api.put("/flows/rolled", json={**guarded, "webhook_auth": None})).status_code == 200
    assert (await api.delete("/secrets/old-key")).status_code == 204, "no version in use names it any more"

    rollback = await api.post("/flows/rolled/publish", json={"version": 1})
    assert rollback.status_code == 422, rollback.text
    assert rollback.json()["problems"][0]["where"] == "webhook_auth.secret" and "version 1" in rollback.text
    assert (await api.get("/flows/rolled")).json()["version"] == 2, "nothing was published"


@pytest.mark.temporal
async def test_signed_requests_and_a_key_rotation(api: httpx.AsyncClient, settings: ApiSettings,
                                                  tmp_path: Path) -> None:
    assert (await api.put("/secrets/signing", json={"value": "whsec"})).status_code == 201
    auth = {"type": "hmac", "secret": "signing", "timestamp_header": "X-Timestamp"}
    assert (await api.put("/flows/signed", json=flow_with(auth, "signed"))).status_code == 201

    def signed() -> dict[str, str]:
        stamp = str(int(time.time()))
        return {"X-Timestamp": stamp, "X-Signature": signature("whsec", f"{stamp}.".encode() + BODY)}

    assert (await api.post("/hooks/signed", content=BODY, headers=signed())).status_code == 202
    stale = signed() | {"X-Timestamp": str(int(time.time()) - 3600)}
    assert (await api.post("/hooks/signed", content=BODY, headers=stale)).status_code == 403

    # rotation: a new key first, the old one still there; re-encrypt; then the old key can go
    assert settings.keys is not None
    rotated = settings.model_copy(update={"keys": new_key_line("second").replace(" ", ":", 1) + ","
                                          + settings.keys.replace(" ", ":", 1)})
    async with api_client(rotated) as second:  # another API process, its own key ring
        moved = await second.post("/secrets/reencrypt")
        assert moved.json() == {"reencrypted": 2, "keyId": "second"}
        assert (await second.post("/hooks/signed", content=BODY, headers=signed())).status_code == 202
    new_only = rotated.model_copy(update={"keys": rotated.keys.split(",")[0] if rotated.keys else None})
    async with api_client(new_only) as third:
        assert (await third.post("/hooks/signed", content=BODY, headers=signed())).status_code == 202
        assert {s["keyId"] for s in (await third.get("/secrets")).json()["secrets"]} == {"second"}

