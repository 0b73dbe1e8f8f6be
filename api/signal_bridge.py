"""The webhook-to-signal bridge: messages reach a flow's long-lived workflow by signal.

Two workflows take messages this way: a running real-time flow's (``realtime:<id>``), and an
ordinary flow's intake (``intake:<id>``, where messages wait when they come faster than runs can
be started). Requests for the same flow that arrive together are gathered (for
``gather_seconds``, at most ``max_batch`` messages) into one signal-with-start, so the workflow's
history grows per batch, not per message, and nothing is refused while the workflow is between
two runs. Each request is answered only once Temporal acknowledged the signal that carries it:
from then on its message is durable. A repeated message id is answered as a duplicate (see
api/message_ids.py).

With tracing on, each message takes along the trace of the request that brought it (its
``traceparent``, by message id): one signal carries many requests' messages, and each message's
processing continues its own request's trace (docs/observability.md "Traces").
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from api.message_ids import AcceptedIds
from conflux.trace_context import current_traceparent
from flows.model import Flow
from steps.protocol import Message

DEFAULT_GATHER_SECONDS = 0.002
DEFAULT_MAX_BATCH = 200


@dataclass
class _Gather:
    flow: Flow
    items: list[tuple[Message, "asyncio.Future[bool]"]] = field(default_factory=list)
    traceparents: dict[str, str] = field(default_factory=dict)  # message id -> its request's trace
    full: asyncio.Event = field(default_factory=asyncio.Event)


SendBatch = Callable[[Flow, list[Message], dict[str, str]], Awaitable[None]]
"""Signal ``messages`` of ``flow`` (with start); the dict: message id -> the traceparent of the
request that brought it (empty while tracing is off)."""


class SignalBridge:
    """``send`` signals one batch of a flow's messages (with start) and returns once Temporal
    acknowledged it."""

    def __init__(self, send: SendBatch, accepted: AcceptedIds, *, gather_seconds: float = DEFAULT_GATHER_SECONDS,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self._send = send
        self._accepted = accepted
        self.gather_seconds = gather_seconds
        self.max_batch = max_batch
        self._open: dict[str, _Gather] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        self._sending: dict[str, asyncio.Lock] = {}

    async def deliver(self, flow: Flow, message: Message) -> bool:
        """Hand the message to the flow's workflow; True when it is a duplicate of one accepted
        before. Raises what the signal raised (nothing was accepted then)."""
        gather = self._open.get(flow.id)
        if gather is None:
            gather = self._open[flow.id] = _Gather(flow)
            task = asyncio.create_task(self._flush_when_due(gather))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        gather.items.append((message, future))
        traceparent = current_traceparent()
        if traceparent is not None:
            gather.traceparents[message.id] = traceparent
        if len(gather.items) >= self.max_batch:
            self._close(gather)
        return await future

    def _close(self, gather: _Gather) -> None:
        if self._open.get(gather.flow.id) is gather:
            del self._open[gather.flow.id]
        gather.full.set()

    async def _flush_when_due(self, gather: _Gather) -> None:
        try:
            await asyncio.wait_for(gather.full.wait(), self.gather_seconds)
        except TimeoutError:
            pass
        # One signal per flow at a time: while one is on its way, the next batch keeps gathering
        # (signals to one workflow are applied one by one; many small ones only queue up there).
        async with self._sending.setdefault(gather.flow.id, asyncio.Lock()):
            self._close(gather)
            try:
                duplicates = await self._flush(gather.flow, [message for message, _ in gather.items],
                                               gather.traceparents)
            except Exception as exc:  # the signal's failure is every waiting request's answer
                for _, future in gather.items:
                    if not future.done():
                        future.set_exception(exc)
                return
        for (_, future), duplicate in zip(gather.items, duplicates, strict=True):
            if not future.done():
                future.set_result(duplicate)

    async def _flush(self, flow: Flow, messages: list[Message], traceparents: dict[str, str]) -> list[bool]:
        # The ids' table is a local SQLite file: one short transaction per batch, on the event loop.
        # On a thread, each statement waited for the busy loop to let go of the GIL (22 ms a batch).
        fresh = self._accepted.claim(flow.id, [message.id for message in messages])
        new = [message for message, is_new in zip(messages, fresh, strict=True) if is_new]
        if new:
            try:
                await self._send(flow, new, {message.id: traceparents[message.id] for message in new
                                             if message.id in traceparents})
            except BaseException:
                self._accepted.release(flow.id, [message.id for message in new])
                raise
            self._accepted.confirm(flow.id, [message.id for message in new])
        return [not is_new for is_new in fresh]
