"""The one place the CLI talks HTTP: every failure becomes a ``CliFailure`` carrying the exit code
and one line to print, taken from the API's own ``error`` sentence (docs/api.md, "Errors")."""

import json
import re
from typing import Any
from urllib.parse import quote

import httpx

from cli.exit_codes import ExitCode

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "conflux-cli/0.1"


class CliFailure(Exception):
    """A command ends here: ``message`` goes to stderr as one line, ``code`` is the exit code.
    ``status`` and ``body`` keep the API's answer for callers that show more (422 problems)."""

    def __init__(self, code: ExitCode, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.body = body

    @property
    def problems(self) -> list[dict[str, str]]:
        """A 422's ``problems`` ([{where, problem}]); empty for any other failure."""
        problems = self.body.get("problems") if isinstance(self.body, dict) else None
        return [p for p in problems if isinstance(p, dict)] if isinstance(problems, list) else []


def flow_path(flow_id: str, *rest: str) -> str:
    """``/flows/{id}/...`` with the id quoted, so an odd id cannot reach another route."""
    return "/".join(("/flows", quote(flow_id, safe=""), *rest))


def execution_path(execution_id: str) -> str:
    # execution ids are '<flow>:<message>', branches add '/b1': the route takes the rest of the path
    return "/executions/" + quote(execution_id, safe=":/@")


class ApiClient:
    """A synchronous client over one base URL; ``transport`` lets tests answer without a server."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers=headers)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, allow: tuple[int, ...] = (), timeout: float | None = None,
             **kwargs: Any) -> httpx.Response:
        """The answer when it is 2xx (or one of ``allow``); a CliFailure otherwise."""
        try:
            response = self._http.request(method, path, timeout=timeout or self.timeout, **kwargs)
        except httpx.TimeoutException:
            raise CliFailure(ExitCode.UNAVAILABLE, f"the API at {self.base_url} did not answer {method} {path} "
                                                   f"within {timeout or self.timeout:g}s; is it overloaded?") from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise CliFailure(ExitCode.UNAVAILABLE, f"the API at {self.base_url} is not reachable ({reason}); "
                                                   "start it (python -m api) or point --api or CONFLUX_API_URL "
                                                   "at it") from None
        if response.status_code < 400 or response.status_code in allow:
            return response
        raise failure_of(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return body_of(self.call(method, path, **kwargs))


def failure_of(response: httpx.Response) -> CliFailure:
    """The API's ``error`` sentence on one line, with the status; 5xx means "try again later"."""
    status = response.status_code
    body = body_of(response)
    said = body.get("error") if isinstance(body, dict) else None
    if not isinstance(said, str):
        text = response.text.strip() or response.reason_phrase
        said = f"{response.request.method} {response.request.url} answered {status}: {text[:200]}"
    code = ExitCode.UNAVAILABLE if status >= 500 else ExitCode.FAILED
    return CliFailure(code, f"{one_line(said)} (HTTP {status})", status, body)


def body_of(response: httpx.Response) -> Any:
    """JSON when the answer is JSON, else the text (None when empty)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def json_argument(text: str, source: str) -> Any:
    """``text`` parsed as JSON, or a usage error naming where it came from and where it breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliFailure(ExitCode.USAGE, f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                         f"column {exc.colno}") from None


def one_line(text: str) -> str:
    """Line breaks become '; ' (or a space after punctuation): an error is one line of stderr."""
    return re.sub(r"([;:,.]?)\s*\n\s*", lambda match: f"{match.group(1) or ';'} ", text.strip())
