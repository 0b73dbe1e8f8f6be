"""What a FlowRun did: Temporal's description plus the per-step records.

The records come from where the workflow leaves them: its result when it completed, the
details of its ``FlowRunFailed`` error when it failed, the ``progress`` query while it runs.
"""

from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.responses import CamelModel, ExecutionId, ExecutionResult, WorkflowId
from workflows.flow_run import FlowRunWorkflow
from workflows.intake import FlowIntakeWorkflow
from workflows.intake_models import intake_workflow_id
from workflows.models import FLOW_RUN_TYPE, FlowRunResult
from workflows.run_report import failed_run_result
from workflows.search import FAILED_STEP, FLOW_ID, FLOW_NAME, FLOW_VERSION, TRIGGER_TYPE

QUERY_TIMEOUT = timedelta(seconds=5)


class ExecutionStatus(CamelModel):
    execution_id: ExecutionId
    workflow_id: WorkflowId
    run_id: str | None = None
    status: str
    start_time: datetime | None = None
    close_time: datetime | None = None
    flow_id: str | None = None
    flow_name: str | None = None
    flow_version: int | None = None
    trigger_type: str | None = None
    failed_steps: list[str] = []
    summary: str | None = None
    error: str | None = None
    result: ExecutionResult | None = None
    links: dict[str, str] = {}


async def execution_status(client: Client, execution_id: str) -> ExecutionStatus:
    """ApiError 404 for an id Temporal does not know, or one that is not a flow run. An ordinary
    flow's execution runs in the workflow of the same id; QUEUED while its message waits in the
    flow's intake."""
    wid = execution_id
    handle = client.get_workflow_handle_for(FlowRunWorkflow.run, wid)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        if await _waiting_in_intake(client, wid):
            return ExecutionStatus(execution_id=wid, workflow_id=wid, status="QUEUED", flow_id=wid.partition(":")[0],
                                   summary="accepted; waiting in the flow's intake for its run to start")
        raise ApiError(404, f"there is no execution '{wid}' (ids look like '<flow id>:<message id>'; "
                            "Temporal forgets closed runs after the namespace's retention period)") from None
    if description.workflow_type != FLOW_RUN_TYPE:
        raise ApiError(404, f"workflow '{wid}' is a {description.workflow_type}, not a flow run")
    status = description.status or WorkflowExecutionStatus.RUNNING
    result, error = await _records(handle, status)
    attributes = description.typed_search_attributes
    version = attributes.get(FLOW_VERSION)
    return ExecutionStatus(
        execution_id=execution_id, workflow_id=wid, run_id=description.run_id, status=status.name,
        start_time=description.start_time, close_time=description.close_time,
        flow_id=attributes.get(FLOW_ID), flow_name=attributes.get(FLOW_NAME),
        flow_version=int(version) if version and version.isdigit() else None,
        trigger_type=attributes.get(TRIGGER_TYPE), failed_steps=list(attributes.get(FAILED_STEP) or []),
        summary=await description.static_summary(), error=error,
        result=ExecutionResult.of(result) if result is not None else None,
    )


async def _waiting_in_intake(client: Client, wid: str) -> bool:
    """Whether an ordinary flow's intake holds this message, its run not started yet."""
    flow_id, _, message_id = wid.partition(":")
    intake = client.get_workflow_handle_for(FlowIntakeWorkflow.run, intake_workflow_id(flow_id))
    try:
        return await intake.query(FlowIntakeWorkflow.waiting, message_id, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError):
        return False


async def _records(handle: WorkflowHandle, status: WorkflowExecutionStatus) -> tuple[FlowRunResult | None, str | None]:
    """(per-step result, error text) for a run in ``status``."""
    if status == WorkflowExecutionStatus.RUNNING:
        return await _progress(handle), None
    try:
        return await handle.result(), None
    except WorkflowFailureError as exc:
        return failed_run_result(exc.cause), str(exc.cause or exc)


async def _progress(handle: WorkflowHandle) -> FlowRunResult | None:
    """The running workflow's own account; None while no worker can answer (nothing ran yet)."""
    try:
        return await handle.query(FlowRunWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowQueryFailedError, RPCError):
        return None
