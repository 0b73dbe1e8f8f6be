"""Every failure answers JSON ``{"error": ..., "problems"?: [{where, problem}]}``: what went wrong,
where, and how to fix it. Bad input is a 4xx, an unreachable Temporal a 503; nothing a caller
sends should end as a 500."""

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from conflux.keys import KeyRingError
from flows.validation import FlowInvalid, Problem

log = logging.getLogger("conflux.api")


class ApiError(Exception):
    """An answer other than success, raised from anywhere below a route."""

    def __init__(self, status: int, error: str, problems: list[Problem] | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.problems = problems
        self.headers = headers
        self.reason = reason  # where one status has several causes: which one (the metrics' label)


def error_response(status: int, error: str, problems: list[Problem] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    content: dict = {"error": error}
    if problems is not None:
        content["problems"] = [problem.model_dump() for problem in problems]
    return JSONResponse(content, status_code=status, headers=headers)


class TemporalUnavailable(ApiError):
    """No connection to Temporal could be made; ``reason`` is the transport's own words."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(503, f"Temporal at {address} is not reachable ({reason}); nothing was started, send "
                              "the request again later (the same Idempotency-Key will not run it twice)")
        self.reason = reason


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.problems, exc.headers)

    async def flow_invalid(_: Request, exc: FlowInvalid) -> JSONResponse:
        return error_response(422, f"the flow definition has {len(exc.problems)} problem(s); fix each one listed "
                                   "under 'problems' and send the whole definition again", exc.problems)

    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [Problem(where=".".join(str(part) for part in error.get("loc", ())) or "(request)",
                            problem=str(error.get("msg", "invalid"))) for error in exc.errors()]
        return error_response(422, "the request is invalid; see 'problems'", problems)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, _routing_error(request, exc), headers=exc.headers)

    async def rpc_error(request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal call for %s %s failed: %s", request.method, request.url.path, exc)
        return error_response(503, f"Temporal refused or did not answer ({exc.status.name}: {exc.message}); "
                                   "try again later")

    async def key_ring_error(request: Request, exc: KeyRingError) -> JSONResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, f"the API cannot decrypt what it needs ({exc}); nothing was started")

    app.add_exception_handler(ApiError, api_error)  # type: ignore[arg-type]  # Starlette types handlers for any Exception
    app.add_exception_handler(FlowInvalid, flow_invalid)  # type: ignore[arg-type]  # Starlette types handlers for any Exception
    app.add_exception_handler(RequestValidationError, request_invalid)  # type: ignore[arg-type]  # Starlette types handlers for any Exception
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]  # Starlette types handlers for any Exception
    app.add_exception_handler(RPCError, rpc_error)  # type: ignore[arg-type]  # Starlette types handlers for any Exception
    app.add_exception_handler(KeyRingError, key_ring_error)  # type: ignore[arg-type]  # Starlette types handlers for any Exception


def _routing_error(request: Request, exc: HTTPException) -> str:
    """Starlette's bare "Not Found" / "Method Not Allowed", said with the way out."""
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404 and exc.detail == "Not Found":
        return f"there is nothing at {where}; the endpoints are listed at /docs"
    if exc.status_code == 405:
        return f"{where}: this path does not take {request.method}; /docs lists the methods it takes"
    return str(exc.detail)
