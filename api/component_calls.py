"""Asking a component's container through a worker: the API has no runner, so each call is a
``ComponentCall`` workflow (workflows/component_call.py) on the workers' task queue, awaited here.

Statuses: the component's own error is the caller's (422, the route says what it was asking); a
container that could not run, or a call that failed on the worker, is 502; a credential the worker
cannot read is 503; no answer within
``component_call_timeout`` is 504, and the workflow is terminated, so a worker that comes later does
not run a call nobody waits for.
"""

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from temporalio import exceptions as temporal_exceptions
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from api.errors import ApiError
from api.services import Services
from workflows.component_call import COMPONENT_CALL_TYPE, ComponentAnswer, ComponentCall, ComponentCallWorkflow

log = logging.getLogger("conflux.api")


class ComponentRefused(Exception):
    """The component answered with an error (it raised): the route words the 422."""


async def call_component(services: Services, call: ComponentCall) -> Any:
    """The component's ``result``; ComponentRefused with its error, ApiError for the rest."""
    settings = services.settings
    client = await services.client()
    seconds = settings.component_call_timeout
    call = call.model_copy(update={"timeout": seconds * 0.9})  # the container's answer, then the way back
    handle = await client.start_workflow(
        ComponentCallWorkflow.run, call, id=f"component-call-{uuid.uuid4().hex}", task_queue=settings.task_queue,
        execution_timeout=timedelta(seconds=seconds), static_summary=f"{call.component}: {call.type}")
    try:
        answer: ComponentAnswer = await asyncio.wait_for(handle.result(), seconds)
    except WorkflowFailureError as failure:
        if not isinstance(failure.cause, temporal_exceptions.TimeoutError):
            raise ApiError(502, f"{call.type} of component '{call.component}' failed on the worker: "
                                f"{innermost(failure.cause)}") from None
        raise _no_answer(call, seconds, settings.task_queue) from None
    except TimeoutError:
        await _terminate(handle)
        raise _no_answer(call, seconds, settings.task_queue) from None
    if answer.error is None:
        return answer.result
    if answer.error_kind == "component":
        raise ComponentRefused(answer.error)
    if answer.error_kind == "credential":
        raise ApiError(503, f"the worker cannot read the credential: {answer.error}")
    raise ApiError(502, f"{call.type} could not run: {answer.error}")


def innermost(error: BaseException | None) -> BaseException | None:
    """The error under Temporal's wrappers: an ActivityError's text says only "Activity task failed"."""
    while isinstance(error, temporal_exceptions.FailureError) and error.cause is not None:
        error = error.cause
    return error


def _no_answer(call: ComponentCall, seconds: float, task_queue: str) -> ApiError:
    return ApiError(504, f"no answer to {call.type} from component '{call.component}' within {seconds:g} s: is a "
                         f"worker running on task queue '{task_queue}' (python -m worker)? A slow container start "
                         "or component may need a longer CONFLUX_COMPONENT_CALL_TIMEOUT")


async def _terminate(handle: WorkflowHandle[Any, Any]) -> None:
    try:
        await handle.terminate(reason="nobody waits for the answer any more")
    except RPCError as failure:  # it ended meanwhile
        log.debug("%s %s not terminated: %s", COMPONENT_CALL_TYPE, handle.id, failure)
