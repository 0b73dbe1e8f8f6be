"""The ``run_step`` activity: map the input, run the step's container once, turn what it emitted
into the next messages, and turn failures into Temporal's retry decisions."""

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from activities.step_credentials import CredentialUnavailable, StepCredentials
from activities.step_io import container_span, container_spec, step_error_text, step_input
from catalog.components import ComponentInfo
from conflux.log_context import logging_fields
from conflux.metrics import polled, step_finished
from flows.mapping import MappingError
from flows.model import Step
from flows.step_output import next_messages
from steps.errors import StepFailure
from steps.pool import WarmPool
from steps.protocol import Message, RequestOutcome, StepRequest
from steps.spec import ContainerSpec
from workflows.models import POLL_RUN_TYPE, BatchItem, StepBatchCall, StepBatchResult, StepCall, StepResult

INPUT_EXCERPT_BYTES = 64 * 1024


class StepActivities:
    """Holds the container pool, the component catalog and the credentials the activities share."""

    def __init__(self, pool: WarmPool, catalog: Mapping[str, ComponentInfo], credentials: StepCredentials) -> None:
        self.pool = pool
        self.catalog = catalog
        self.credentials = credentials

    @activity.defn(name="run_step")
    async def run_step(self, call: StepCall) -> StepResult:
        with logging_fields(flow=call.flow_id, version=call.flow_version, step=call.step.id,
                            message_id=call.message.id, execution_id=call.execution_id):
            polling = activity.info().workflow_type == POLL_RUN_TYPE
            try:
                result = await self._run_step(call)
            except Exception:  # a failed poll attempt (a cancellation is not one)
                if polling:
                    polled(call.flow_id, None)
                raise
            if polling:
                polled(call.flow_id, len(result.messages))
            return result

    async def _run_step(self, call: StepCall) -> StepResult:
        started = time.perf_counter()
        step = call.step
        message = _step_input(call, step, call.message)
        request = StepRequest(id=f"{message.id or 'msg'}@{step.id}", function=step.function, msg=message,
                              cfg=await self._config(step, message), snapshot=call.snapshot,
                              variables=call.variables)
        try:
            async with heartbeating():
                [outcome] = await self._run_fresh(call, [request])
        except StepFailure as failure:
            raise _step_failure(failure, step, message) from None
        await self.credentials.keep(step, outcome.keys)
        _raise_for_outcome(outcome, step, message)
        return StepResult(
            messages=next_messages(outcome.data, message, step, call.passthrough),
            input_body=message.body,
            snapshot=outcome.merged_snapshot(call.snapshot) if outcome.snapshot is not None else None,
            http_reply=outcome.http_reply,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    @activity.defn(name="run_step_batch")
    async def run_step_batch(self, call: StepBatchCall) -> StepBatchResult:
        """Many messages through one container: one start, one request per message. A failure of
        one message is that message's; a crash or hang of the container retries the batch."""
        with logging_fields(flow=call.flow_id, version=call.flow_version, step=call.step.id,
                            execution_id=call.execution_id):
            return await self._run_step_batch(call)

    async def _run_step_batch(self, call: StepBatchCall) -> StepBatchResult:
        started = time.perf_counter()
        step = call.step
        items: dict[str, BatchItem] = {}
        requests = []
        cfg = await self._config(step, None)
        for index, original in enumerate(call.messages):
            key = f"{index}:{original.id}@{step.id}"
            try:
                message = _step_input(call, step, original)
            except ApplicationError as error:
                items[key] = BatchItem(message=original, status="failed", error=str(error), error_type=error.type)
                continue
            items[key] = BatchItem(message=original, status="ok", input_body=message.body)
            requests.append(StepRequest(id=key, function=step.function, msg=message, cfg=cfg,
                                        variables=call.variables))
        try:
            async with heartbeating():
                outcomes = await self._run_fresh(call, requests) if requests else []
        except StepFailure as failure:
            raise _step_failure(failure, step, None) from None
        for outcome in outcomes:
            await self.credentials.keep(step, outcome.keys)
            _settle(items[outcome.id], outcome, step, call.passthrough)
        return StepBatchResult(items=list(items.values()), duration_ms=round((time.perf_counter() - started) * 1000, 2))

    async def _config(self, step: Step, message: Message | None) -> dict[str, Any]:
        """What the container gets as ``cfg``: the step's config and its credential's fields, which
        exist only in this activity and the container (never in the activity's input or result)."""
        try:
            return await self.credentials.config(step)
        except CredentialUnavailable as problem:
            details = _failure_details(step, message) if message is not None else {"step": step.id}
            raise ApplicationError(str(problem), details, type="CredentialUnavailable", non_retryable=True) from None

    async def _run_fresh(self, call: StepCall | StepBatchCall, requests: list[StepRequest]) -> list[RequestOutcome]:
        step = call.step
        started, ok = time.perf_counter(), False
        try:
            with container_span(call.flow_id, call.flow_version, step, requests, execution_id=call.execution_id):
                outcomes = await self.pool.run_fresh(self._spec(step, call), requests, step.timeout,
                                                     origin=f"{call.flow_id}/{step.id}", standby=call.standby)
            ok = all(outcome.error is None for outcome in outcomes)
            return outcomes
        finally:
            step_finished(call.flow_id, step.id, step.component, time.perf_counter() - started, ok)

    def _spec(self, step: Step, call: StepCall | StepBatchCall) -> ContainerSpec:
        labels = {
            "conflux.flow": call.flow_id,
            "conflux.flow-version": str(call.flow_version),
            "conflux.step": step.id,
            "conflux.execution": call.execution_id,
        }
        return container_spec(step, self.catalog, labels, f"step '{step.id}' of flow '{call.flow_id}'")


def _step_input(call: StepCall | StepBatchCall, step: Step, message: Message) -> Message:
    try:
        return step_input(call.flow_id, step, message, call.variables)
    except MappingError as exc:
        raise ApplicationError(f"step '{step.id}': {exc}", _failure_details(step, message),
                               type="MappingError", non_retryable=True) from None


def _settle(item: BatchItem, outcome: RequestOutcome, step: Step, passthrough: bool) -> None:
    """One message's outcome within a batch."""
    if outcome.error is not None:
        item.status, item.error_type = "failed", "StepError"
        item.error = step_error_text(step, outcome.error)
    elif outcome.rebound is not None:
        item.status, item.error_type = "rebound", "Rebound"
        item.error = f"{outcome.rebound.name}: {outcome.rebound.message}"
    else:
        item.outputs = next_messages(outcome.data, item.message, step, passthrough)
        item.http_reply = outcome.http_reply


def _raise_for_outcome(outcome: RequestOutcome, step: Step, message: Message) -> None:
    if outcome.error is not None:
        raise ApplicationError(
            step_error_text(step, outcome.error), _failure_details(step, message, outcome.error.model_dump()),
            type="StepError", non_retryable=True,
        )
    if outcome.rebound is not None:
        attempt = activity.info().attempt
        reason = f"{outcome.rebound.name}: {outcome.rebound.message}"
        if attempt >= step.rebound.max_attempts:
            raise ApplicationError(
                f"step '{step.id}' rebounded {attempt} times, the limit of its rebound policy; last: {reason}",
                _failure_details(step, message), type="ReboundLimit", non_retryable=True,
            )
        delay = outcome.rebound_delay or step.rebound.delay(attempt)
        raise ApplicationError(f"step '{step.id}' rebounded (attempt {attempt}, next in {delay:g}s): {reason}",
                               type="Rebound", next_retry_delay=_seconds(delay))


def _step_failure(failure: StepFailure, step: Step, message: Message | None) -> ApplicationError:
    """A container failure; ``message`` is None for a batch, whose every message failed with it
    (the workflow records each with its own input)."""
    attempt = activity.info().attempt
    final = not failure.retryable or attempt >= step.retry.max_attempts
    text = f"step '{step.id}' ({step.component}/{step.function}): {failure}"
    if failure.retryable and final:
        text += f" (attempt {attempt} of {step.retry.max_attempts}: giving up)"
    next_delay = None if final else _seconds(step.retry.delay(attempt))
    details = {"detail": failure.detail}
    if message is not None:
        details = _failure_details(step, message, details)
    return ApplicationError(text, details,
                            type=type(failure).__name__, non_retryable=final, next_retry_delay=next_delay)


def _failure_details(step: Step, message: Message, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body = message.model_dump(mode="json")["body"]
    if len(str(body)) > INPUT_EXCERPT_BYTES:
        body = {"excerpt": str(body)[:INPUT_EXCERPT_BYTES], "truncated": True}
    return {"step": step.id, "component": step.component, "message_id": message.id, "input": body, **(extra or {})}


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
