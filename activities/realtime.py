"""The local activities of real-time flows: warm up, push a batch through every step, poll, retire.

They run in the worker that holds the flow's workflow, next to its warm pool, so a batch goes
through all the steps in one activity: no task queue, no container start, one history event.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from temporalio import activity

from activities.step_credentials import CredentialUnavailable, StepCredentials
from activities.step_io import container_span, container_spec, step_error_text, step_input
from catalog.components import ComponentInfo
from conflux.log_context import logging_fields
from conflux.metrics import polled, realtime_batch, step_finished
from conflux.trace_context import links_to
from flows.mapping import MappingError
from flows.message_ids import entry_of, idempotency_key, poll_message_id
from flows.model import Flow, Step
from flows.step_output import next_messages, runs_in_platform, webhook_trigger_output
from steps.errors import StepFailure
from steps.pool import Outcome, WarmKey, WarmPool
from steps.protocol import HttpReply, Message, StepRequest
from steps.spec import ContainerSpec
from workflows.models import MAX_OUTPUTS
from workflows.realtime_models import (
    BatchCall,
    BatchResult,
    PollCall,
    PollResult,
    Queued,
    ReplyDelta,
    RetireCall,
    Retry,
    StepFailed,
    WarmUpCall,
    WarmUpResult,
)
from workflows.retry_input import kept

EXCERPT_CHARS = 4096


class RealtimeActivities:
    def __init__(self, pool: WarmPool, catalog: Mapping[str, ComponentInfo], credentials: StepCredentials) -> None:
        self.pool = pool
        self.catalog = catalog
        self.credentials = credentials

    @activity.defn(name="realtime_warm_up")
    async def warm_up(self, call: WarmUpCall) -> WarmUpResult:
        started = time.perf_counter()
        flow = call.flow
        counts = await asyncio.gather(*(self.pool.ensure(_key(flow, step), self._spec(flow, step), step.replicas)
                                        for step in flow.all_steps if not runs_in_platform(step)))
        return WarmUpResult(containers=sum(counts), milliseconds=_since(started))

    @activity.defn(name="realtime_batch")
    async def batch(self, call: BatchCall) -> BatchResult:
        """Each queued message from its own step to the end; fan-out parts travel on together."""
        started = time.perf_counter()
        flow, steps = call.flow, call.flow.all_steps
        realtime_batch(flow.id, len(call.items))
        result = BatchResult()
        replies = _Replies(call.items)
        parts = [_Part(item.start_at, item.message, item.attempt, item.reply_to, item.traceparent)
                 for item in call.items]
        for index, step in enumerate(steps):
            here = [part for part in parts if part.at == index]
            if not here:
                continue
            parts = [part for part in parts if part.at != index]
            with logging_fields(flow=flow.id, version=flow.version, step=step.id):
                parts += await self._run_step(flow, index, step, here, result, replies)
        for part in parts:
            replies.delivered(part.reply_to, part.message.body)
        result.delivered = len(parts)
        result.milliseconds = _since(started)
        result.replies = replies.deltas()
        _note_entries(result, call.items)
        return result

    @activity.defn(name="realtime_poll")
    async def poll(self, call: PollCall) -> PollResult:
        with logging_fields(flow=call.flow.id, version=call.flow.version, step=call.flow.trigger.id):
            result = await self._poll(call)
        polled(call.flow.id, None if result.error is not None else len(result.messages))
        return result

    async def _poll(self, call: PollCall) -> PollResult:
        flow, trigger = call.flow, call.flow.trigger
        message_id = poll_message_id(flow.id, call.poll_number, call.poller_run_id)
        message = Message(id=message_id, idempotencyKey=idempotency_key(flow.id, message_id, trigger.id))
        try:
            cfg = await self.credentials.config(trigger)
        except CredentialUnavailable as problem:
            return PollResult(messages=[], error=f"poll {call.poll_number}: {problem}")
        request = StepRequest(id=f"poll-{call.poll_number}", function=trigger.function, msg=message,
                              cfg=cfg, snapshot=call.snapshot, variables=flow.variables)
        [outcome] = await self.pool.call(_key(flow, trigger), self._spec(flow, trigger), trigger.replicas, [request],
                                         trigger.timeout, trigger.retry.max_attempts)
        if isinstance(outcome, StepFailure):
            return PollResult(messages=[], error=f"poll {call.poll_number}: {outcome}")
        await self.credentials.keep(trigger, outcome.keys)
        if outcome.error is not None or outcome.rebound is not None:
            error = outcome.error or outcome.rebound
            assert error is not None
            return PollResult(messages=[], error=step_error_text(trigger, error))
        return PollResult(messages=next_messages(outcome.data, message, trigger, flow.passthrough),
                          snapshot=outcome.merged_snapshot(call.snapshot) if outcome.snapshot is not None else None)

    @activity.defn(name="realtime_retire")
    async def retire(self, call: RetireCall) -> int:
        return await self.pool.retire(call.flow_id, call.keep_version)

    async def _run_step(self, flow: Flow, index: int, step: Step, here: list["_Part"], result: BatchResult,
                        replies: "_Replies") -> list["_Part"]:
        """One step for the parts that reached it; the parts that go on to the next step."""
        if runs_in_platform(step):
            return [part.onward(webhook_trigger_output(part.message, step, flow.passthrough)) for part in here]
        try:
            cfg = await self.credentials.config(step)  # every request carries it: a warm container sees a change
        except CredentialUnavailable as problem:
            for part in here:
                failed = _failed(part.message, step, str(problem), "CredentialUnavailable", part.message.body)
                result.failures.append(failed)
                replies.failed(part.reply_to, failed.error)
            return []
        requests, inputs = [], []
        for number, part in enumerate(here):
            try:
                mapped = step_input(flow.id, step, part.message, flow.variables)
            except MappingError as exc:
                failed = _failed(part.message, step, f"step '{step.id}': {exc}", "MappingError", part.message.body)
                result.failures.append(failed)
                replies.failed(part.reply_to, failed.error)
                continue
            requests.append(StepRequest(id=f"{number}:{part.message.id}@{step.id}", function=step.function,
                                        msg=mapped, cfg=cfg, variables=flow.variables,
                                        traceparent=part.traceparent))
            inputs.append((part, mapped))
        called = time.perf_counter()
        with container_span(flow.id, flow.version, step, requests,
                            links=links_to([part.traceparent for part, _ in inputs])):
            outcomes = await self.pool.call(_key(flow, step), self._spec(flow, step), step.replicas, requests,
                                            step.timeout, step.retry.max_attempts)
        if requests:
            ok = not any(isinstance(outcome, StepFailure) or outcome.error is not None for outcome in outcomes)
            step_finished(flow.id, step.id, step.component, time.perf_counter() - called, ok)
        onward: list[_Part] = []
        for (part, mapped), outcome in zip(inputs, outcomes, strict=True):
            if not isinstance(outcome, StepFailure):
                await self.credentials.keep(step, outcome.keys)
            onward += _settle(flow, index, step, part, mapped, outcome, result, replies)
        return onward

    def _spec(self, flow: Flow, step: Step) -> ContainerSpec:
        labels = {"conflux.flow": flow.id, "conflux.flow-version": str(flow.version), "conflux.step": step.id}
        return container_spec(step, self.catalog, labels, f"step '{step.id}' of real-time flow '{flow.id}'")


def _settle(flow: Flow, index: int, step: Step, part: "_Part", mapped: Message, outcome: Outcome,
            result: BatchResult, replies: "_Replies") -> list["_Part"]:
    """Record a failure or a rebound in ``result``, or return the parts that go on."""
    message, attempt = part.message, part.attempt
    failed: StepFailed | None = None
    if isinstance(outcome, StepFailure):
        text = f"step '{step.id}' ({step.component}/{step.function}): {outcome}"
        failed = _failed(message, step, text, type(outcome).__name__, mapped.body)
    elif outcome.error is not None:
        failed = _failed(message, step, step_error_text(step, outcome.error), "StepError", mapped.body)
    elif outcome.rebound is not None:
        reason = f"{outcome.rebound.name}: {outcome.rebound.message}"
        if attempt >= step.rebound.max_attempts:
            text = f"step '{step.id}' rebounded {attempt} times, the limit of its rebound policy; last: {reason}"
            failed = _failed(message, step, text, "ReboundLimit", mapped.body)
        else:
            delay = outcome.rebound_delay or step.rebound.delay(attempt)
            result.retries.append(Retry(queued=Queued(message=message, start_at=index, attempt=attempt + 1,
                                                      reply_to=part.reply_to, traceparent=part.traceparent),
                                        delay=delay, reason=reason))
            replies.requeued(part.reply_to)
            return []
    if failed is not None:
        result.failures.append(failed)
        replies.failed(part.reply_to, failed.error)
        return []
    assert not isinstance(outcome, StepFailure)
    replies.http_reply(part.reply_to, outcome.http_reply)
    outputs = next_messages(outcome.data, message, step, flow.passthrough)
    if not outputs:
        result.filtered += 1
    return [part.onward(output) for output in outputs]


def _failed(message: Message, step: Step, error: str, error_type: str, body: object) -> StepFailed:
    text = str(body)
    excerpt = body if len(text) <= EXCERPT_CHARS else {"excerpt": text[:EXCERPT_CHARS], "truncated": True}
    return StepFailed(message_id=message.id, step_id=step.id, error=error, error_type=error_type, input=excerpt,
                      arrived=kept(message))


def _note_entries(result: BatchResult, items: list[Queued]) -> None:
    """Each failure's message as it entered this batch, where a plain retry starts it again."""
    entries = {item.message.id: item for item in items}
    for failure in result.failures:
        entry = entries.get(entry_of(failure.message_id, list(entries)) or "")
        if entry is not None and kept(entry.message) is not None:
            failure.entered = Queued(message=entry.message, start_at=entry.start_at)


@dataclass(frozen=True)
class _Part:
    """A message (or a fan-out part of one) on its way through a batch: the step it is at, the
    attempt at that step, and whose caller waits for it (request-reply)."""

    at: int
    message: Message
    attempt: int = 1
    reply_to: str | None = None
    traceparent: str | None = None  # its request's trace (tracing on), which its fan-out parts continue

    def onward(self, output: Message) -> "_Part":
        return _Part(self.at + 1, output, 1, self.reply_to, self.traceparent)


class _Replies:
    """What a batch did for the messages callers wait on; nothing for the others, so the history
    carries outputs only for request-reply."""

    def __init__(self, items: list[Queued]) -> None:
        self._deltas: dict[str, ReplyDelta] = {}
        for item in items:
            if item.reply_to is not None:
                delta = self._deltas.setdefault(item.reply_to, ReplyDelta(message_id=item.reply_to))
                delta.entered += 1

    def deltas(self) -> list[ReplyDelta]:
        return list(self._deltas.values())

    def failed(self, reply_to: str | None, error: str) -> None:
        if reply_to is not None and self._deltas[reply_to].error is None:
            self._deltas[reply_to].error = error

    def requeued(self, reply_to: str | None) -> None:
        if reply_to is not None:
            self._deltas[reply_to].requeued += 1

    def http_reply(self, reply_to: str | None, reply: HttpReply | None) -> None:
        if reply_to is not None and reply is not None and self._deltas[reply_to].http_reply is None:
            self._deltas[reply_to].http_reply = reply

    def delivered(self, reply_to: str | None, body: object) -> None:
        if reply_to is not None and len(self._deltas[reply_to].outputs) < MAX_OUTPUTS:
            self._deltas[reply_to].outputs.append(body)


def _key(flow: Flow, step: Step) -> WarmKey:
    return WarmKey(flow.id, flow.version, step.id)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
