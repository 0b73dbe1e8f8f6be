"""GET /flows/{id}/errors: every failed message of a flow, whatever ran it, newest first.

Ordinary and polling flows: each failed FlowRun (found in Temporal's visibility store by its
``FlowId`` and status) carries its failures in the details of its ``FlowRunFailed`` error; a
run that fanned out carries each failed part, so one run can hold several errors. The FlowRuns
a large fan-out starts as branches (``<run>/b<n>``) are left out: their parent carries their
failures. Real-time flows: the recent failures their long-lived workflow keeps.
"""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecution, WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.error_ids import RealtimeFailure, RunFailure, encode_error_id
from api.error_pages import Cursor, Dated, take_page
from api.responses import CamelModel
from api.run_status import QUERY_TIMEOUT
from workflows.models import FlowRunResult
from workflows.realtime_flow import RealtimeFlowWorkflow
from workflows.realtime_models import FailedMessage, realtime_workflow_id
from workflows.run_report import failed_run_result as report_of_failure

BRANCH_ID = re.compile(r"/b\d+$")  # a fan-out's branches (a poll's record runs are children too: kept)
PAGE_RUNS_MAX = 100


class ErrorItem(CamelModel):
    error_id: str
    flow_id: str
    flow_version: int | None = None
    execution_id: str
    message_id: str
    step_id: str
    error: str | None = None
    error_type: str | None = None
    input: Any = None
    at: datetime | None = None
    retries: list[str] = []


class ErrorPage(CamelModel):
    errors: list[ErrorItem]
    next_page_token: str | None = None


async def list_errors(client: Client, flow_id: str, cursor: Cursor | None,
                      limit: int) -> tuple[list[ErrorItem], Cursor | None]:
    """One page and the cursor of the next (without ``retries``: the caller adds them)."""
    needed = limit + 1 + (cursor.skip if cursor else 0)
    runs, realtime = await asyncio.gather(_run_errors(client, flow_id, cursor, needed),
                                          _realtime_errors(client, flow_id))
    return take_page(runs + realtime, cursor, limit)


def failed_runs_query(flow_id: str, cursor: Cursor | None) -> str:
    query = f"WorkflowType = 'FlowRun' AND ExecutionStatus = 'Failed' AND FlowId = '{flow_id}'"
    if cursor is not None:  # visibility keeps nanoseconds; ours are microseconds: the whole microsecond is in
        query += f" AND CloseTime < '{(cursor.before + timedelta(microseconds=1)).isoformat()}'"
    return query


async def _run_errors(client: Client, flow_id: str, cursor: Cursor | None, needed: int) -> list[Dated[ErrorItem]]:
    """The errors of the newest failed runs at or before the cursor, until ``needed`` are found."""
    found: list[Dated[ErrorItem]] = []
    runs = client.list_workflows(failed_runs_query(flow_id, cursor), page_size=min(needed, PAGE_RUNS_MAX))
    while len(found) < needed:
        await runs.fetch_next_page()
        page = [run for run in runs.current_page or [] if not BRANCH_ID.search(run.id)]
        for errors in await asyncio.gather(*(_errors_of(client, run) for run in page)):
            found += errors
        if runs.next_page_token is None:
            break
    return found


async def _errors_of(client: Client, run: WorkflowExecution) -> list[Dated[ErrorItem]]:
    result = await fetch_failed_run_result(client, run.id, run.run_id)
    at = run.close_time or datetime.now(UTC)
    if result is None:
        return []
    return [Dated(at=at, order=(run.id, run.run_id, index),
                  item=ErrorItem(error_id=encode_error_id(RunFailure(run.id, run.run_id, index)),
                                 flow_id=result.flow_id, flow_version=result.flow_version, execution_id=run.id,
                                 message_id=failure.message_id, step_id=failure.step_id, error=failure.error,
                                 error_type=failure.error_type, input=failure.input, at=at))
            for index, failure in enumerate(result.failures)]


async def fetch_failed_run_result(client: Client, workflow_id: str, run_id: str) -> FlowRunResult | None:
    """The report a failed FlowRun left in its failure's details; None when it did not fail so."""
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).result(follow_runs=False)
    except WorkflowFailureError as failure:
        return report_of_failure(failure.cause)
    return None


async def realtime_failures(client: Client, flow_id: str) -> list[FailedMessage]:
    """What the flow's real-time workflow keeps; none when it has none (or never ran)."""
    handle = client.get_workflow_handle_for(RealtimeFlowWorkflow.run, realtime_workflow_id(flow_id))
    try:
        return await handle.query(RealtimeFlowWorkflow.failures, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError):
        return []


def realtime_error_id(failure: FailedMessage) -> str | None:
    if failure.at is None:
        return None
    return encode_error_id(RealtimeFailure(failure.message_id, failure.step_id, failure.at.isoformat()))


async def _realtime_errors(client: Client, flow_id: str) -> list[Dated[ErrorItem]]:
    found = []
    for failure in await realtime_failures(client, flow_id):
        error_id = realtime_error_id(failure)
        if error_id is None or failure.at is None:
            continue
        found.append(Dated(at=failure.at, order=("~realtime", f"{failure.message_id}@{failure.step_id}", 0),
                           item=ErrorItem(error_id=error_id, flow_id=flow_id, flow_version=failure.flow_version,
                                          execution_id=f"{flow_id}:{failure.message_id}",
                                          message_id=failure.message_id, step_id=failure.step_id,
                                          error=failure.error, error_type=failure.error_type, input=failure.input,
                                          at=failure.at)))
    return found
