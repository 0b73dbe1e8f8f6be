"""The long-lived workflow a flow keeps (a poller, a real-time flow): found running, or a 409 that
says how to start it; and its ``control`` update, whose refusal is a 409 with the reason."""

from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.services import Services


async def running_workflow(services: Services, workflow_id: str, flow_id: str, what: str) -> WorkflowHandle:
    """``what`` names the workflow for the error ("the poller of 'x'")."""
    handle = (await services.client()).get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, f"flow '{flow_id}' has never been started; POST /flows/{flow_id}/start "
                                "starts it") from None
        raise
    if description.status is None or description.status.name != "RUNNING":
        state = description.status.name.lower() if description.status else "gone"
        raise ApiError(409, f"{what} is {state}; POST /flows/{flow_id}/start starts it again")
    return handle


async def control(handle: WorkflowHandle, update: Any, request: Any) -> Any:
    """Send the ``control`` update; a refusal by its validator answers 409 with the validator's words."""
    try:
        return await handle.execute_update(update, request)
    except WorkflowUpdateFailedError as failure:
        cause = failure.cause
        raise ApiError(409, str(getattr(cause, "message", cause))) from None
