"""The failed messages of a flow, whatever ran it (GET /flows/{id}/errors), and retrying them
(POST /flows/{id}/errors/retry): plain, from the failed step, or with an edited body."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from api.error_ids import BadErrorId, decode_error_id
from api.error_list import ErrorPage, list_errors
from api.error_pages import BadPageToken, decode_cursor, encode_cursor
from api.error_retry import RetryStarted, merge_same_runs, plan_retry, start_retry
from api.error_sources import FoundError, UnknownError, find_error
from api.errors import ApiError
from api.flow_lookup import load_flow
from api.responses import CamelModel
from api.services import Services, ServicesDep
from flows.validation import Problem

router = APIRouter(tags=["errors"])
LIMIT_DEFAULT = 20
LIMIT_MAX = 100


class RetryRequest(CamelModel):
    error_ids: list[str] = Field(min_length=1, max_length=LIMIT_MAX, description="ids from GET /flows/{id}/errors")
    from_step: bool = Field(default=False, description="start at the failed step with the message as it reached "
                                                       "it; the steps before it do not run again")
    body: Any = Field(default=None, description="with exactly one errorId: the message body to retry with "
                                                "(edit and retry); absent: the recorded one")


class RetriesStarted(CamelModel):
    retries: list[RetryStarted]


@router.get("/flows/{flow_id}/errors", response_model=ErrorPage)
async def get_errors(flow_id: str, services: ServicesDep,
                     limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = LIMIT_DEFAULT,
                     page_token: Annotated[str | None, Query(alias="pageToken")] = None) -> ErrorPage:
    """Failed messages, newest first: the step, its error, the input it failed on, the version, and
    the executions that retried it. ``nextPageToken`` (null on the last page) gets the next page."""
    flow = (await load_flow(services, flow_id)).flow
    try:
        cursor = decode_cursor(page_token) if page_token else None
    except BadPageToken as error:
        raise ApiError(400, str(error)) from None
    errors, following = await list_errors(await services.client(), flow.id, cursor, limit)
    retries = await asyncio.to_thread(services.retry_log.retries_of, flow.id, [item.error_id for item in errors])
    for item in errors:
        item.retries = retries.get(item.error_id, [])
    return ErrorPage(errors=errors, next_page_token=encode_cursor(following) if following else None)


@router.post("/flows/{flow_id}/errors/retry", status_code=202, response_model=RetriesStarted,
             responses={404: {"description": "an errorId is unknown"}, 409: {"description": "cannot retry so"}})
async def retry_errors(flow_id: str, request: RetryRequest, services: ServicesDep) -> RetriesStarted:
    """Each error again, as a new execution on the ACTIVE version, linked to the failed one. Nothing
    starts unless every errorId is found and can be retried."""
    flow = (await load_flow(services, flow_id)).flow
    edit = "body" in request.model_fields_set
    error_ids = list(dict.fromkeys(request.error_ids))
    if edit and len(error_ids) != 1:
        raise ApiError(422, f"body replaces one message's body: send exactly one errorId with it, not {len(error_ids)}")
    found = await _find_all(services, flow.id, error_ids)
    client = await services.client()
    plans = [await plan_retry(client, flow, error, request.from_step, request.body, edit) for error in found]
    started: list[RetryStarted] = []
    for plan in merge_same_runs(plans):
        started += await start_retry(services, flow, plan)
    return RetriesStarted(retries=started)


async def _find_all(services: Services, flow_id: str, error_ids: list[str]) -> list[FoundError]:
    """Every error, or 404 listing each one not found and why."""
    client = await services.client()
    found: list[FoundError] = []
    problems: list[Problem] = []
    for error_id in error_ids:
        try:
            found.append(await find_error(client, services.store, flow_id, error_id, decode_error_id(error_id)))
        except (BadErrorId, UnknownError) as error:
            problems.append(Problem(where=error_id, problem=str(error)))
    if problems:
        raise ApiError(404, f"{len(problems)} of the {len(error_ids)} errorIds are not errors of flow '{flow_id}' "
                            f"(see 'problems'; GET /flows/{flow_id}/errors lists them); nothing was retried", problems)
    return found
