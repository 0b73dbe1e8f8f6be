"""Credentials steps name by id (a component's ``credentials.fields``): verified by the component's own
verifier in its container before they are stored, stored encrypted (conflux/credential_store.py),
never answered back."""

import asyncio
import secrets
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from api.component_calls import ComponentRefused, call_component
from api.credential_lookup import missing_credential, stored_credential
from api.errors import ApiError
from api.flow_usage import flows_naming
from api.responses import CamelModel, Reencrypted
from api.services import Services, ServicesDep
from catalog.components import ComponentInfo
from conflux.credential_store import CredentialExists, CredentialInfo, CredentialMissing, SealedFields
from flows.model import ID_PATTERN, Flow
from flows.validation import Problem
from workflows.component_call import ComponentCall

router = APIRouter(tags=["credentials"])
MAX_FIELDS = 100


class CredentialFields(CamelModel):
    fields: dict[str, Any] = Field(max_length=MAX_FIELDS, description=(
        "the fields the component's descriptor declares (credentials.fields); never returned"))
    network: bool = Field(default=False, description=(
        "run the verifier with host networking (a verifier that calls its service needs it), as a step may"))


class NewCredential(CredentialFields):
    id: str | None = Field(default=None, pattern=ID_PATTERN, description="the id steps name; unset: one is made")
    component: str = Field(description="the component whose steps use it")


class CredentialSummary(CamelModel):
    id: str
    component: str
    key_id: str = Field(description="the encryption key its fields are sealed with (conflux/keys.py)")
    created_at: str
    updated_at: str = Field(description="last change: a PUT, or a step's updateKeys")
    used_by: list[str] = Field(default_factory=list, description="flows whose active version or draft names it")


class CredentialList(CamelModel):
    credentials: list[CredentialSummary]


@router.post("/credentials", response_model=CredentialSummary, status_code=201,
             responses={409: {"description": "the id is taken"},
                        422: {"description": "fields the component does not declare, or its verifier refused them"},
                        504: {"description": "no worker answered the verification in time"}})
async def create_credential(body: NewCredential, response: Response, services: ServicesDep) -> CredentialSummary:
    """Verified by the component's ``verifyCredentials`` in its container first; stored only if verified."""
    component = _component(services, body.component)
    credential_id = body.id or f"cred-{secrets.token_hex(4)}"
    if body.id is not None and await asyncio.to_thread(services.credentials.info, body.id) is not None:
        raise _taken(body.id)
    sealed = await _verified(services, component, credential_id, body)
    try:
        info = await asyncio.to_thread(services.credentials.create, component.name, sealed)
    except CredentialExists:
        raise _taken(credential_id) from None
    response.headers["Location"] = f"/credentials/{info.id}"
    return _summary(info, [])


@router.get("/credentials", response_model=CredentialList)
async def list_credentials(services: ServicesDep) -> CredentialList:
    infos = await asyncio.to_thread(services.credentials.list)
    users = await _users_by_credential(services)
    return CredentialList(credentials=[_summary(info, users.get(info.id, [])) for info in infos])


@router.get("/credentials/{credential_id}", response_model=CredentialSummary)
async def get_credential(credential_id: str, services: ServicesDep) -> CredentialSummary:
    info = await stored_credential(services, credential_id)
    return _summary(info, (await _users_by_credential(services)).get(info.id, []))


@router.put("/credentials/{credential_id}", response_model=CredentialSummary,
            responses={422: {"description": "the component's verifier refused the fields"}})
async def replace_credential(credential_id: str, body: CredentialFields, services: ServicesDep) -> CredentialSummary:
    """New fields, verified like a new credential; the steps naming it get them from their next message on."""
    info = await stored_credential(services, credential_id)
    sealed = await _verified(services, _component(services, info.component), credential_id, body)
    try:
        info = await asyncio.to_thread(services.credentials.replace, sealed)
    except CredentialMissing:
        raise missing_credential(credential_id) from None
    return _summary(info, (await _users_by_credential(services)).get(info.id, []))


@router.delete("/credentials/{credential_id}", status_code=204, responses={409: {"description": "a flow uses it"}})
async def delete_credential(credential_id: str, services: ServicesDep) -> Response:
    users = (await _users_by_credential(services)).get(credential_id, [])
    if users:
        raise ApiError(409, f"credential '{credential_id}' is used by flow(s) {', '.join(users)}; publish them "
                            "without it first")
    if not await asyncio.to_thread(services.credentials.delete, credential_id):
        raise missing_credential(credential_id)
    return Response(status_code=204)


@router.post("/credentials/reencrypt", response_model=Reencrypted)
async def reencrypt_credentials(services: ServicesDep) -> Reencrypted:
    """After a new key was put first in the key ring: seal every credential under it, so the old key can go."""
    moved = await asyncio.to_thread(services.credentials.reencrypt)
    return Reencrypted(reencrypted=moved, key_id=services.credentials.keys.active_id)


async def _verified(services: Services, component: ComponentInfo, credential_id: str,
                    body: CredentialFields) -> SealedFields:
    """The fields sealed for ``credential_id``, once the component's verifier accepted them. They reach
    the worker sealed: the verification's workflow history holds no plaintext."""
    _check_fields(component, body.fields)
    sealed = await asyncio.to_thread(services.credentials.seal, credential_id, body.fields)
    call = ComponentCall(component=component.name, type="verifyCredentials", sealed=sealed, network=body.network)
    try:
        verdict = await call_component(services, call)
    except ComponentRefused as error:
        raise ApiError(422, f"component '{component.name}' could not verify the credential: {error}; nothing was "
                            "stored") from None
    if not isinstance(verdict, dict) or verdict.get("verified") is not True:
        reason = verdict.get("reason") if isinstance(verdict, dict) else None
        raise ApiError(422, f"component '{component.name}' did not verify the credential: "
                            f"{reason or 'it gave no reason'}; nothing was stored")
    return sealed


def _check_fields(component: ComponentInfo, fields: dict[str, Any]) -> None:
    """Every required field given, none the descriptor does not declare (a typo would be stored unseen)."""
    declared = (component.descriptor.get("credentials") or {}).get("fields") or {}
    if not declared:
        raise ApiError(422, f"component '{component.name}' declares no credentials (no credentials.fields in its "
                            "component.json); its steps need none")
    problems = [Problem(where=f"fields.{name}", problem=f"'{name}' is not a credential field of '{component.name}' "
                                                        f"(its fields: {', '.join(declared)})")
                for name in fields if name not in declared]
    problems += [Problem(where=f"fields.{name}", problem=f"required field '{name}' ({spec.get('label', name)}) "
                                                         "is missing")
                 for name, spec in declared.items()
                 if isinstance(spec, dict) and spec.get("required") and fields.get(name) in (None, "")]
    if problems:
        raise ApiError(422, f"the credential's fields do not match component '{component.name}': fix each one "
                            "listed under 'problems'", problems)


def _component(services: Services, name: str) -> ComponentInfo:
    component = services.catalog.get(name)
    if component is None:
        raise ApiError(422, f"there is no component '{name}' (components: {', '.join(sorted(services.catalog))})")
    return component


async def _users_by_credential(services: Services) -> dict[str, list[str]]:
    return await flows_naming(services, _credentials_of)


def _credentials_of(flow: Flow) -> list[str]:
    return [step.credential for step in flow.every_step if step.credential is not None]


def _taken(credential_id: str) -> ApiError:
    return ApiError(409, f"credential '{credential_id}' exists; PUT /credentials/{credential_id} replaces its fields")


def _summary(info: CredentialInfo, used_by: list[str]) -> CredentialSummary:
    return CredentialSummary(id=info.id, component=info.component, key_id=info.key_id, created_at=info.created_at,
                             updated_at=info.updated_at, used_by=used_by)
