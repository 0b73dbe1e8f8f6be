"""RealtimeFlow: one long-lived workflow per real-time flow (id ``realtime:<flow id>``).

Messages arrive by the ``messages`` signal (a batch per API gather window) and wait in the
workflow's state, so from Temporal's acknowledgement on they are durable. Batches go through
every step of the flow by one local activity each, on the worker that holds this workflow and
its warm containers; up to ``flow.concurrency`` batches are in flight. A rebound waits on a
durable timer without holding up the others; an error is recorded and the stream goes on.
Operators start, stop (drain first) and publish (warm the new version, switch, retire the old)
through the ``control`` update. The history stays bounded by continue-as-new, which carries
the waiting messages, the dedup window, the counters and the flow.
"""

import asyncio
from collections import deque
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from flows.model import Flow
    from workflows.realtime_models import (
        SIGNAL_MESSAGES,
        UPDATE_RETRY,
        BatchCall,
        BatchResult,
        FailedMessage,
        MessageBatch,
        PollCall,
        PollResult,
        Queued,
        RealtimeCarry,
        RealtimeControl,
        RealtimeInput,
        RealtimeRetry,
        RealtimeStatus,
        ReplyDelta,
        RetireCall,
        StepFailed,
        WarmUpCall,
        WarmUpResult,
    )
    from workflows.replies import FlowReply, RealtimeReplyCall, ReplyProgress
    from workflows.retry_input import kept
    from workflows.schedule import next_poll_at
    from workflows.search import FLOW_VERSION

BATCH_MAX = 100             # messages one local activity carries through the flow
SEEN_IDS_MAX = 10_000       # the workflow's dedup window: the last this many message ids
FAILURES_KEPT = 50          # the most recent failed messages kept in the workflow
LATENCY_SAMPLES = 200
WARM_UP_TIMEOUT = timedelta(minutes=5)
WARM_UP_RETRY_DELAY = 30.0  # seconds before a failed warm-up is tried again
BATCH_OVERHEAD = timedelta(minutes=2)
LOCAL_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


@workflow.defn(name="RealtimeFlow")
class RealtimeFlowWorkflow:
    @workflow.init
    def __init__(self, start: RealtimeInput) -> None:
        self._carry: RealtimeCarry = start.carry.model_copy(deep=True)
        self._max_events = start.max_history_events
        self._seen = deque(self._carry.seen_ids, maxlen=SEEN_IDS_MAX)
        self._seen_set = set(self._seen)
        self._in_flight: dict[int, int] = {}  # flow version -> messages in batches now
        self._batches = 0
        self._publish: Flow | None = None
        self._switching: Flow | None = None
        self._polling = False
        self._containers_up = False
        self._warm_up_ms: float | None = None
        self._warm_up_error: str | None = None
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._tasks: set[asyncio.Task[None]] = set()
        self._awaited: dict[str, ReplyProgress] = {}  # request-reply: message id -> what it produced so far
        self._continuing = False

    @workflow.run
    async def run(self, start: RealtimeInput) -> None:
        if self._carry.flow.trigger.type == "polling":
            self._spawn(self._poll_forever())
        while True:
            await self._wait_for_work()
            if self._may_continue_as_new():
                await self._continue_as_new()
            if self._carry.state == "starting":
                await self._warm_up()
                continue
            if self._publish is not None and self._switching is None:
                self._switching, self._publish = self._publish, None
                self._spawn(self._switch(self._switching))
            self._dispatch()
            if self._carry.state in ("stopping", "stopped") and self._drained() and self._containers_up:
                await self._retire(keep_version=None)
                self._carry.state = "stopped"
                self._show()

    @workflow.signal(name=SIGNAL_MESSAGES)
    def messages(self, batch: MessageBatch) -> None:
        """Accepted messages; a message id seen within the dedup window is counted, not queued."""
        for message in batch.messages:
            self._accept(Queued(message=message, traceparent=batch.traceparents.get(message.id)))

    @workflow.update
    async def deliver_and_reply(self, call: RealtimeReplyCall) -> FlowReply:
        """Request-reply: one message, answered with what the flow produced for it (or ``timeout``
        after ``call.reply.timeout_seconds``: the message goes on all the same)."""
        message, mode = call.message, call.reply.mode
        if not self._accept(Queued(message=message, reply_to=message.id, traceparent=call.traceparent)):
            return FlowReply(status="duplicate")
        if self._continuing or self._continue_as_new_due():
            # the next run takes the message; this one cannot wait for its reply (and callers must
            # not keep it from continuing as new: their waits would overlap without end under load)
            return FlowReply(status="timeout")
        progress = self._awaited[message.id] = ReplyProgress()
        try:
            await workflow.wait_condition(lambda: progress.ready(mode), timeout=call.reply.timeout_seconds)
        except TimeoutError:
            return FlowReply(status="timeout")
        finally:
            del self._awaited[message.id]
        return progress.reply(mode)

    @workflow.update(name=UPDATE_RETRY)
    def retry(self, request: RealtimeRetry) -> int:
        """A failed message again, queued past the dedup window (its id is in it: the ``messages``
        signal would count it a duplicate). Answers the number of messages waiting."""
        self._carry.queue.append(Queued(message=request.message, start_at=request.start_at))
        self._carry.counters.accepted += 1
        return len(self._carry.queue)

    @retry.validator
    def _check_retry(self, request: RealtimeRetry) -> None:
        steps = self._carry.flow.all_steps
        if not 0 <= request.start_at < len(steps):
            raise ValueError(f"v{self._carry.flow.version} has no step {request.start_at}; its steps are "
                             + ", ".join(f"{index}: {step.id}" for index, step in enumerate(steps)))

    @workflow.update
    def control(self, request: RealtimeControl) -> RealtimeStatus:
        state = self._carry.state
        if request.action == "start":
            if request.flow is not None and request.flow.version != self._carry.flow.version:
                self._replace_or_publish(request.flow)
            if state in ("stopping", "stopped"):
                self._carry.state = "starting"
        elif request.action == "stop":
            if state != "stopped":
                self._carry.state = "stopping"
        elif request.flow is not None:
            self._replace_or_publish(request.flow)
        self._show()
        return self.status()

    @control.validator
    def _check_control(self, request: RealtimeControl) -> None:
        if request.action == "publish" and request.flow is None:
            raise ValueError("publish needs the new flow definition")
        if request.flow is not None and request.flow.id != self._carry.flow.id:
            raise ValueError(f"this workflow runs flow '{self._carry.flow.id}', not '{request.flow.id}'")
        if request.flow is not None and request.flow.type != "realtime":
            raise ValueError(f"flow '{request.flow.id}' v{request.flow.version} is not a real-time flow")

    @workflow.query
    def status(self) -> RealtimeStatus:
        carry = self._carry
        latencies = sorted(self._latencies)
        publishing = self._switching or self._publish
        return RealtimeStatus(
            flow_id=carry.flow.id, flow_version=carry.flow.version, state=carry.state,
            workflow_id=workflow.info().workflow_id, counters=carry.counters,
            waiting=len(carry.queue), in_flight=sum(self._in_flight.values()),
            publishing_version=publishing.version if publishing else None,
            warm_up_ms=self._warm_up_ms, warm_up_error=self._warm_up_error,
            latency_p50_ms=_percentile(latencies, 0.50), latency_p99_ms=_percentile(latencies, 0.99),
            recent_failures=list(reversed(carry.failures[-10:])), continued_as_new=carry.runs - 1,
        )

    @workflow.query
    def failures(self) -> list[FailedMessage]:
        return list(reversed(self._carry.failures))

    # -- the loop's steps

    async def _wait_for_work(self) -> None:
        """Until something can be done, or the next rebound is due."""
        due = [item.due for item in self._carry.queue if item.due is not None]
        timeout = max(0.0, (min(due) - workflow.now()).total_seconds()) if due else None
        try:
            await workflow.wait_condition(self._has_work, timeout=timeout)
        except TimeoutError:
            pass

    def _has_work(self) -> bool:
        state = self._carry.state
        return (state == "starting"
                or (self._ready_count() > 0 and self._batches == 0)
                or (self._publish is not None and self._switching is None)
                or (state in ("stopping", "stopped") and self._drained() and self._containers_up)
                or self._may_continue_as_new())

    def _dispatch(self) -> None:
        """Take ready messages into batches, up to the flow's concurrency, in rounds: the next round
        starts when this one is done. Local activities keep the workflow task open while they
        run, and the SDK only heartbeats it (every 8 s) when they overlap without end, so signals
        would wait that long; rounds close the task as soon as the batches are done."""
        if self._batches:
            return
        flow = self._carry.flow
        now = workflow.now()
        ready = [item for item in self._carry.queue if item.due is None or item.due <= now]
        later = [item for item in self._carry.queue if not (item.due is None or item.due <= now)]
        while ready and self._batches < flow.concurrency:
            batch, ready = ready[:BATCH_MAX], ready[BATCH_MAX:]
            self._batches += 1
            self._in_flight[flow.version] = self._in_flight.get(flow.version, 0) + len(batch)
            self._containers_up = True
            self._spawn(self._run_batch(flow, batch))
        self._carry.queue = ready + later

    async def _run_batch(self, flow: Flow, items: list[Queued]) -> None:
        steps = " → ".join(step.id for step in flow.all_steps[min(item.start_at for item in items):])
        try:
            result = await workflow.execute_local_activity(
                "realtime_batch", BatchCall(flow=flow, items=items), result_type=BatchResult,
                start_to_close_timeout=_batch_timeout(flow), retry_policy=LOCAL_RETRY,
                summary=f"v{flow.version} {steps} ×{len(items)}",
            )
        except ActivityError as error:
            result = _batch_failed(flow, items, f"the batch could not run: {error.cause or error}")
        finally:
            self._batches -= 1
            self._in_flight[flow.version] -= len(items)
        self._account(flow, result)

    def _account(self, flow: Flow, result: BatchResult) -> None:
        counters = self._carry.counters
        counters.batches += 1
        counters.delivered += result.delivered
        counters.filtered += result.filtered
        counters.failed += len(result.failures)
        counters.rebounds += len(result.retries)
        now = workflow.now()
        for failure in result.failures:
            self._carry.failures.append(FailedMessage(
                message_id=failure.message_id, step_id=failure.step_id, error=failure.error,
                error_type=failure.error_type, input=failure.input, flow_version=flow.version, at=now,
                arrived=failure.arrived, entered=failure.entered))
        del self._carry.failures[:-FAILURES_KEPT]
        for retry in result.retries:
            self._carry.queue.append(retry.queued.model_copy(update={"due": now + timedelta(seconds=retry.delay)}))
        if result.milliseconds:
            self._latencies.append(result.milliseconds)
        for delta in result.replies:
            progress = self._awaited.get(delta.message_id)
            if progress is not None:  # else its caller stopped waiting (timeout)
                progress.merge(delta)
        self._show()

    async def _warm_up(self) -> None:
        """Start every step's containers; ``running`` once all answered their handshake."""
        flow = self._carry.flow
        if await self._warm(flow):
            if self._carry.flow.version == flow.version and self._carry.state == "starting":
                self._carry.state = "running"
        else:
            await workflow.sleep(WARM_UP_RETRY_DELAY)
        self._show()

    async def _warm(self, flow: Flow) -> bool:
        try:
            result = await workflow.execute_local_activity(
                "realtime_warm_up", WarmUpCall(flow=flow), result_type=WarmUpResult,
                start_to_close_timeout=WARM_UP_TIMEOUT, retry_policy=LOCAL_RETRY,
                summary=f"warm up v{flow.version}: {', '.join(s.id for s in flow.all_steps)}",
            )
        except ActivityError as error:
            self._warm_up_error = f"warming up v{flow.version} failed: {error.cause or error}"
            return False
        self._containers_up = True
        self._warm_up_ms, self._warm_up_error = result.milliseconds, None
        return True

    async def _switch(self, new: Flow) -> None:
        """Publish without downtime: the old version serves while the new one warms up; batches
        already under way finish on the old one; then its containers stop."""
        try:
            if not await self._warm(new):
                return
            old = self._carry.flow.version
            self._carry.flow = new
            workflow.upsert_search_attributes([FLOW_VERSION.value_set(str(new.version))])
            self._show()
            await workflow.wait_condition(lambda: self._in_flight.get(old, 0) == 0)
            await self._retire(keep_version=new.version)
        finally:
            self._switching = None
            self._show()

    async def _retire(self, keep_version: int | None) -> None:
        await workflow.execute_local_activity(
            "realtime_retire", RetireCall(flow_id=self._carry.flow.id, keep_version=keep_version), result_type=int,
            start_to_close_timeout=timedelta(minutes=1), retry_policy=LOCAL_RETRY,
            summary="stop containers" + (f" of versions before v{keep_version}" if keep_version else ""),
        )
        if keep_version is None:
            self._containers_up = False

    async def _poll_forever(self) -> None:
        """A polling trigger's warm container, asked every interval; the snapshot advances only
        from a poll that answered."""
        carry = self._carry
        while True:
            due = next_poll_at(carry.flow.trigger, carry.last_poll_started, workflow.now()) \
                if carry.state == "running" else None
            if due is None:
                await workflow.wait_condition(lambda: self._carry.state == "running")
                continue
            wait = (due - workflow.now()).total_seconds()
            if wait > 0:
                await workflow.sleep(wait)
            if carry.state != "running" or self._continue_as_new_due():
                await workflow.wait_condition(lambda: self._carry.state == "running"
                                              and not self._continue_as_new_due())
                continue
            await self._poll_once()

    async def _poll_once(self) -> None:
        carry = self._carry
        carry.last_poll_started = workflow.now()
        carry.counters.polls += 1
        number = carry.counters.polls
        flow = carry.flow
        self._polling = True
        try:
            result = await workflow.execute_local_activity(
                "realtime_poll", PollCall(flow=flow, snapshot=carry.snapshot, poll_number=number,
                                         poller_run_id=workflow.info().first_execution_run_id),
                result_type=PollResult, start_to_close_timeout=timedelta(seconds=flow.trigger.timeout) + BATCH_OVERHEAD,
                retry_policy=LOCAL_RETRY, summary=f"poll {flow.trigger.id}",
            )
        except ActivityError as error:
            result = PollResult(messages=[], error=str(error.cause or error))
        finally:
            self._polling = False
        if result.error is None:
            if result.snapshot is not None:
                carry.snapshot = result.snapshot
            carry.queue += [Queued(message=message, start_at=1) for message in result.messages]
            carry.counters.accepted += len(result.messages)
        else:
            self._warm_up_error = f"last poll failed: {result.error}"

    # -- continue-as-new

    def _may_continue_as_new(self) -> bool:
        """Due, and no caller waits for a reply: the loop would stop dispatching while it waits for
        handlers to finish, so a waiting caller could only time out."""
        return self._continue_as_new_due() and not self._awaited

    def _continue_as_new_due(self) -> bool:
        info = workflow.info()
        if self._max_events is not None and info.get_current_history_length() >= self._max_events:
            return True
        return info.is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        """Once the batches, the switch and the poll under way are done, and no handler runs."""
        self._continuing = True
        await workflow.wait_condition(lambda: self._batches == 0 and self._switching is None and not self._polling)
        await workflow.wait_condition(workflow.all_handlers_finished)
        carry = self._carry.model_copy(update={"seen_ids": list(self._seen), "runs": self._carry.runs + 1})
        if carry.state == "running":
            carry.state = "starting"  # the next run makes sure its worker has the containers
        workflow.continue_as_new(RealtimeInput(carry=carry, max_history_events=self._max_events))

    # -- small helpers

    def _replace_or_publish(self, flow: Flow) -> None:
        """A new version: switched to without downtime while running, else simply taken."""
        if self._carry.state == "running":
            self._publish = flow
        else:
            self._carry.flow = flow
            workflow.upsert_search_attributes([FLOW_VERSION.value_set(str(flow.version))])

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A task the loop follows through the workflow's state (kept referenced until done)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accept(self, queued: Queued) -> bool:
        """Queue a message unless its id is in the dedup window (then it is counted as a duplicate)."""
        counters = self._carry.counters
        if queued.message.id in self._seen_set:
            counters.duplicates += 1
            return False
        self._remember(queued.message.id)
        self._carry.queue.append(queued)
        counters.accepted += 1
        return True

    def _remember(self, message_id: str) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(message_id)
        self._seen_set.add(message_id)

    def _ready_count(self) -> int:
        now = workflow.now()
        return sum(1 for item in self._carry.queue if item.due is None or item.due <= now)

    def _drained(self) -> bool:
        return not self._carry.queue and self._batches == 0 and self._switching is None

    def _show(self) -> None:
        """The Temporal UI's current details: what an operator wants without opening payloads."""
        status = self.status()
        c = status.counters
        lines = [
            f"**{self._carry.flow.name}** (`{status.flow_id}`) v{status.flow_version} — **{status.state}**",
            f"accepted {c.accepted} · delivered {c.delivered} · failed {c.failed} · filtered {c.filtered} · "
            f"rebounds {c.rebounds} · duplicates {c.duplicates}",
            f"waiting {status.waiting} · in flight {status.in_flight} · batches {c.batches}",
        ]
        if status.latency_p50_ms is not None:
            lines.append(f"batch time p50 {status.latency_p50_ms:.1f} ms · p99 {status.latency_p99_ms:.1f} ms")
        if status.publishing_version:
            lines.append(f"publishing v{status.publishing_version}")
        if status.warm_up_error:
            lines.append(f"⚠ {status.warm_up_error}")
        if status.recent_failures:
            last = status.recent_failures[0]
            lines.append(f"last failure: message `{last.message_id}` at step `{last.step_id}`: {last.error[:200]}")
        workflow.set_current_details("\n\n".join(lines))


def _batch_failed(flow: Flow, items: list[Queued], error: str) -> BatchResult:
    """Every message of a batch failed with it (its activity kept failing), each at its own step;
    the callers waiting on any of them get the failure too."""
    failures: list[StepFailed] = []
    replies: dict[str, ReplyDelta] = {}
    for item in items:
        arrived = kept(item.message)
        failures.append(StepFailed(message_id=item.message.id, step_id=flow.all_steps[item.start_at].id, error=error,
                                   error_type="BatchFailed", input=item.message.body, arrived=arrived,
                                   entered=Queued(message=item.message, start_at=item.start_at) if arrived else None))
        if item.reply_to is not None:
            delta = replies.setdefault(item.reply_to, ReplyDelta(message_id=item.reply_to, error=error))
            delta.entered += 1
    return BatchResult(failures=failures, replies=list(replies.values()))


def _batch_timeout(flow: Flow) -> timedelta:
    """Every step's timeout for each of its attempts, plus starting containers on a cold worker."""
    seconds = sum(step.timeout * step.retry.max_attempts for step in flow.all_steps)
    return timedelta(seconds=seconds) + BATCH_OVERHEAD


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 2)
