"""Runs one request against the component and guarantees it ends.

Mapping of what a function does to events: a returned value is one ``data`` (a generator's
items are one each); ``Rebound`` raised is ``rebound``; any other exception is ``error``; and
``end`` always follows, whether or not the author called it. ``sys.exit()`` in step code is an
``error`` too, and then the process exits as asked (the platform replaces a warm container).
"""

import functools
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conflux_runtime.descriptor import Component
from conflux_runtime.emitter import Emitter, describe_error
from conflux_runtime.errors import ComponentError, Rebound
from conflux_runtime.transport import Transport

if TYPE_CHECKING:
    import asyncio


class Executor:
    def __init__(self, component: Component, transport: Transport) -> None:
        self.component = component
        self.transport = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        if component.has_async_code() or "asyncio" in sys.modules:
            self._event_loop()  # made at start (before ready), not on the first message's path
        self._cfg: dict[str, dict[str, Any]] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}

    def handle(self, request: dict[str, Any]) -> None:
        request_id = str(request.get("id", ""))
        variables, traceparent = request.get("variables"), request.get("traceparent")
        emit = Emitter(request_id, self._track(request), variables if isinstance(variables, dict) else None,
                       traceparent if isinstance(traceparent, str) else None)
        try:
            self._dispatch(request, emit)
        except Rebound as exc:
            emit.rebound(exc, exc.delay)
        except Exception as exc:  # the author's failure becomes this message's error, never a crash
            emit.error(exc)
        except SystemExit as exc:  # the author ends the process: this message failed, and the process exits
            emit.error(ComponentError(f"the step called sys.exit({exc.code!r}); a step ends by returning "
                                      "or raising, and its process keeps serving"))
            raise
        finally:
            emit.end()

    def reject(self, problem: Exception) -> None:
        """A request line that could not be read: answered with an error event with no id."""
        self.transport.send({"id": None, "type": "error", "error": describe_error(problem)})
        self.transport.send({"id": None, "type": "end"})

    def _track(self, request: dict[str, Any]):
        """Keep this process's copy of the step's snapshot in step with what the platform will keep:
        snapshot changes count only when the request ends without error or rebound."""
        function = str(request.get("function", ""))
        send = self.transport.send
        changes: list[dict[str, Any]] = []
        failed = False

        def send_and_track(event: dict[str, Any]) -> None:
            nonlocal failed
            if event["type"] in ("snapshot", "updateSnapshot"):
                changes.append(event)
            elif event["type"] in ("error", "rebound"):
                failed = True
            elif event["type"] == "end" and not failed:
                for change in changes:
                    base = {} if change["type"] == "snapshot" else self._snapshots.get(function, {})
                    self._snapshots[function] = {**base, **change["snapshot"]}
            send(event)

        return send_and_track

    def _dispatch(self, request: dict[str, Any], emit: Emitter) -> None:
        kind = request.get("type")
        function = request.get("function")
        cfg = self._config(request)
        if kind == "process":
            function = self._require_function(function)
            if "snapshot" in request:
                self._snapshots[function] = dict(request.get("snapshot") or {})
            snapshot = self._snapshots.setdefault(function, {})
            msg = request.get("msg")
            if not isinstance(msg, dict):
                raise ComponentError("a process request needs 'msg' (an object)")
            process = self.component.process_function(function)
            self._emit_returned(self._call(process, (msg, cfg, dict(snapshot), emit)), emit)
        elif kind == "verifyCredentials":
            verifier = (self.component.descriptor.get("credentials") or {}).get("verifier")
            if not verifier:
                emit.result({"verified": True})
                return
            answer = self._call(self.component.resolve(verifier, "verify"), (cfg, emit))
            emit.result({"verified": answer is not False} if not isinstance(answer, dict) else answer)
        elif kind == "getMetaModel":
            function = self._require_function(function)
            module = self.component.module_of(function)
            if hasattr(module, "get_meta_model"):
                emit.result(self._call(module.get_meta_model, (cfg, emit)))
            else:
                emit.result(self.component.function_spec(function).get("metadata") or {})
        elif kind == "selectModel":
            function = self._require_function(function)
            method = request.get("method")
            model = getattr(self.component.module_of(function), str(method), None)
            if not callable(model):
                raise ComponentError(f"'{function}' has no select-model function '{method}'")
            emit.result(self._call(model, (cfg, emit)))
        else:
            raise ComponentError(f"unknown request type {kind!r} "
                                 "(expected process, verifyCredentials, getMetaModel, selectModel)")

    def _config(self, request: dict[str, Any]) -> dict[str, Any]:
        key = str(request.get("function", ""))
        if "cfg" in request:
            self._cfg[key] = dict(request.get("cfg") or {})
        return self._cfg.get(key, {})

    @staticmethod
    def _require_function(function: Any) -> str:
        if not isinstance(function, str) or not function:
            raise ComponentError("the request names no 'function' (a trigger or action of the component)")
        return function

    def _call(self, function: Callable[..., Any], arguments: tuple[Any, ...]) -> Any:
        """Call with as many leading arguments as the function accepts; run coroutines to the end."""
        result = function(*arguments[: _positional_capacity(function, len(arguments))])
        if inspect.isawaitable(result):
            result = self._event_loop().run_until_complete(result)
        return result

    def _event_loop(self) -> "asyncio.AbstractEventLoop":
        """Made when first needed: importing asyncio is ≈ 40 ms of every start, a third of a fresh
        process's, which a component without async code never uses."""
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
        return self._loop

    def _emit_returned(self, result: Any, emit: Emitter) -> None:
        """None emits nothing; a generator emits each item; anything else (a list too) is one body."""
        if result is None:
            return
        if inspect.isasyncgen(result):
            result = self._event_loop().run_until_complete(_collect(result))
            for body in result:
                emit.data(body)
        elif inspect.isgenerator(result):
            for body in result:
                emit.data(body)
        else:
            emit.data(result)


async def _collect(agen: Any) -> list[Any]:
    return [item async for item in agen]


@functools.lru_cache(maxsize=256)  # inspect.signature per message cost more than a small component's work
def _positional_capacity(function: Callable[..., Any], available: int) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return available
    count = 0
    for parameter in parameters:
        if parameter.kind == parameter.VAR_POSITIONAL:
            return available
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return min(count, available)
