"""Drives the step protocol over a channel: the ready handshake, batches of requests, the exit."""

import asyncio
from collections.abc import Awaitable, Callable

from conflux.metrics import container_failed
from steps.channel import Channel
from steps.errors import (
    ComponentBroken,
    ContainerCrashed,
    PayloadTooLarge,
    ProtocolViolation,
    StepFailure,
    StepTimeout,
)
from steps.protocol import (
    DEFAULT_MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    RequestOutcome,
    StepRequest,
    decode_event,
    excerpt,
)


class StepSession:
    """One container's conversation. Use :meth:`call` for a batch, :meth:`finish` to end it."""

    def __init__(self, channel: Channel, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, image: str = "") -> None:
        self.channel = channel
        self.max_line_bytes = max_line_bytes
        self.image = image  # the metrics' label for its failures
        self._closed = False

    async def handshake(self, timeout: float) -> None:
        """Wait for ``ready``; ``fatal``, garbage or silence fail here with the reason."""
        try:
            await self._handshake(timeout)
        except StepFailure as failure:
            container_failed(self.image, type(failure).__name__)
            raise

    async def _handshake(self, timeout: float) -> None:
        try:
            event = await asyncio.wait_for(self._next_event(), timeout)
        except TimeoutError:
            await self.abort()
            raise StepTimeout(f"{self.channel.description} did not become ready within {timeout:g}s",
                              detail=self.channel.stderr_excerpt()) from None
        except StepFailure:
            await self.abort()
            raise
        if event is None:
            raise await self._crashed("exited before it was ready")
        if event["type"] == "fatal":
            error = event.get("error") or {}
            await self.abort()
            raise ComponentBroken(f"{self.channel.description}: the component could not be loaded: "
                                  f"{error.get('message', error)}")
        if event["type"] != "ready":
            await self.abort()
            raise ProtocolViolation(f"{self.channel.description} sent '{event['type']}' before 'ready'",
                                    detail=excerpt(str(event)))
        if event.get("protocol") != PROTOCOL_VERSION:
            await self.abort()
            raise ProtocolViolation(f"{self.channel.description} speaks step protocol {event.get('protocol')!r}; "
                                    f"this platform speaks {PROTOCOL_VERSION}: rebuild the image with this "
                                    "platform's conflux_runtime")

    async def call(self, requests: list[StepRequest], timeout: float, *, last: bool = False) -> list[RequestOutcome]:
        """Send a batch and collect every request's outcome. ``timeout`` is per request: each
        must end within it of the one before. ``last`` closes stdin after sending (one-shot
        mode). A timeout kills the container: its state is unknown afterwards."""
        try:
            return await self._call(requests, timeout, last)
        except StepFailure as failure:
            container_failed(self.image, type(failure).__name__)
            raise

    async def _call(self, requests: list[StepRequest], timeout: float, last: bool) -> list[RequestOutcome]:
        lines = b"".join(request.encode(self.max_line_bytes) for request in requests)
        try:
            return await self._exchange(lines, [r.id for r in requests], last, timeout)
        except TimeoutError:
            await self.abort()
            raise StepTimeout(f"{self.channel.description} did not end a message within {timeout:g}s "
                              "and was killed", detail=self.channel.stderr_excerpt()) from None
        except StepFailure:
            await self.abort()
            raise

    async def finish(self, timeout: float = 10.0) -> None:
        """Close stdin and wait for a clean exit; anything else after the last end is a failure."""
        try:
            await asyncio.wait_for(self._drain_to_exit(), timeout)
        except TimeoutError:
            await self.abort()
            container_failed(self.image, StepTimeout.__name__)
            raise StepTimeout(f"{self.channel.description} did not exit within {timeout:g}s after its "
                              "input was closed", detail=self.channel.stderr_excerpt()) from None
        except StepFailure as failure:
            container_failed(self.image, type(failure).__name__)
            raise
        finally:
            await self.channel.dispose()

    async def abort(self) -> None:
        if not self._closed:
            self._closed = True
            await self.channel.kill()
            await self.channel.dispose()

    async def _exchange(self, lines: bytes, ids: list[str], last: bool, timeout: float) -> list[RequestOutcome]:
        outcomes = {request_id: RequestOutcome(id=request_id) for request_id in ids}
        sending = asyncio.create_task(self._send(lines, last))  # read while writing: big batches cannot deadlock
        loop = asyncio.get_running_loop()
        try:
            pending = set(ids)
            async with asyncio.timeout(timeout) as deadline:  # one timer moved along, not one per event
                while pending:
                    event = await self._next_event()
                    deadline.reschedule(loop.time() + timeout)
                    if event is None:
                        break
                    self._record(event, outcomes, pending)
            if pending:
                missing = ", ".join(sorted(pending))
                raise await self._crashed(f"exited before ending request(s) {missing}")
            await sending
        finally:
            if not sending.done():
                sending.cancel()
        return [outcomes[request_id] for request_id in ids]

    def _record(self, event: dict, outcomes: dict[str, RequestOutcome], pending: set[str]) -> None:
        request_id = event.get("id")
        if request_id not in outcomes:
            if request_id is None and event["type"] in ("error", "end"):
                raise ProtocolViolation(f"{self.channel.description} could not read a request",
                                        detail=excerpt(str(event.get("error"))))
            raise ProtocolViolation(f"{self.channel.description} answered an unknown request id {request_id!r}",
                                    detail=excerpt(str(event)))
        outcomes[request_id].apply(event)
        if event["type"] == "end":
            pending.discard(request_id)

    async def _send(self, lines: bytes, last: bool) -> None:
        try:
            await self.channel.write(lines)
            if last:
                await self.channel.close_stdin()
        except (ConnectionError, BrokenPipeError):
            pass  # the container is gone; reading tells why

    async def _drain_to_exit(self) -> None:
        if not self._closed:
            await self.channel.close_stdin()
        event = await self._next_event()
        if event is not None:
            raise ProtocolViolation(f"{self.channel.description} wrote after its last request ended",
                                    detail=excerpt(str(event)))
        code = await self.channel.wait()
        self._closed = True
        if code != 0:
            raise await self._crashed(f"exited with code {code}", code)

    async def _next_event(self) -> dict | None:
        try:
            line = await self.channel.stdout.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise PayloadTooLarge(f"{self.channel.description} wrote an event line above the "
                                  f"{self.max_line_bytes:,}-byte limit (CONFLUX_MAX_LINE_BYTES)") from None
        if not line:
            return None
        if not line.endswith(b"\n"):
            raise ProtocolViolation(f"{self.channel.description} ended its output in the middle of a line",
                                    detail=excerpt(line))
        return decode_event(line)

    async def _crashed(self, what: str, code: int | None = None) -> ContainerCrashed:
        if code is None:
            code = await _exit_code(self.channel.wait)
        self._closed = True
        cause = await self.channel.exit_cause() if code is not None else None
        await self.channel.dispose()
        await asyncio.sleep(0)  # let the stderr pump take the last lines
        stderr = self.channel.stderr_excerpt()
        hint = f"; last stderr lines:\n{stderr}" if stderr else " (nothing on stderr)"
        hint_code = "" if code is None else f" (exit code {code}{': ' + cause if cause else ''})"
        return ContainerCrashed(f"{self.channel.description} {what}{hint_code}{hint}", detail=stderr)


async def _exit_code(wait: Callable[[], Awaitable[int]]) -> int | None:
    try:
        return await asyncio.wait_for(wait(), 10)
    except TimeoutError:
        return None
