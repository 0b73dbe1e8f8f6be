"""``conflux send``: one message to a flow (POST /flows/{id}/executions). Without ``--wait`` it
prints the execution id as soon as the API accepted the message; with it, the request-reply
contract makes the API answer with the flow's reply (the first ``httpReply`` a step emits, or
with ``--reply last`` the last step's output), or 504 and the execution id when none came in time.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx

from cli.api_client import CliFailure, body_of, failure_of, flow_path, json_argument, one_line
from cli.context import Context
from cli.exit_codes import ExitCode

# beyond the reply's own timeout: the API answers 504 itself, the client must not give up first
REPLY_MARGIN = 10.0
DEFAULT_REPLY_WAIT = 300.0  # without --timeout the flow's own reply.timeout applies (default 30 s)
REPLY_HEADERS_LEFT_OUT = frozenset({"date", "server", "content-length", "transfer-encoding", "connection"})


def message_body(args: argparse.Namespace) -> bytes:
    """--body, --body-file (``-``: stdin) or ``{}``; checked to be JSON here, where the mistake
    can be shown with its line and column."""
    if args.body is not None:
        text, source = args.body, "--body"
    elif args.body_file is not None:
        source = "stdin" if args.body_file == "-" else args.body_file
        try:
            text = sys.stdin.read() if args.body_file == "-" else Path(args.body_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliFailure(ExitCode.USAGE, f"--body-file {args.body_file} cannot be read ({exc.strerror})") from None
    else:
        return b"{}"
    json_argument(text, f"the body from {source}")
    return text.encode()


def send(args: argparse.Namespace, context: Context) -> ExitCode:
    headers = {"Content-Type": "application/json"}
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    if not args.wait and (args.reply or args.timeout is not None):
        raise CliFailure(ExitCode.USAGE, "--reply and --timeout only apply with --wait")
    path = flow_path(args.flow_id, "executions")
    content = message_body(args)
    if args.wait:
        return _send_and_wait(args, context, path, content, headers)
    answer = context.api.json("POST", path, content=content, headers=headers)
    _print_accepted(context, answer)
    return ExitCode.OK


def _print_accepted(context: Context, answer: dict[str, Any]) -> None:
    if context.out.is_json:
        context.out.json(answer)
        return
    if answer.get("duplicate"):
        context.out.note("a message with this idempotency key was sent before: nothing new started; this is the "
                         "first message's execution")
    context.out.line(str(answer.get("executionId")))


def _send_and_wait(args: argparse.Namespace, context: Context, path: str, content: bytes,
                   headers: dict[str, str]) -> ExitCode:
    params: dict[str, Any] = {"reply": args.reply or "first"}
    if args.timeout is not None:
        params["timeout"] = args.timeout
    wait = (args.timeout if args.timeout is not None else DEFAULT_REPLY_WAIT) + REPLY_MARGIN
    response = context.api.call("POST", path, content=content, headers=headers, params=params, allow=(500, 504),
                                timeout=wait)
    if response.status_code == 504:
        return _no_reply_in_time(context, response)
    if response.status_code == 500:
        return _run_failed(context, response)
    if response.status_code == 202:
        context.out.note("the API accepted the message without waiting for a reply (it has no request-reply, or "
                         "the message was sent before); follow it with conflux runs follow")
        _print_accepted(context, response.json())
        return ExitCode.OK
    _print_reply(context, response)
    return ExitCode.OK


def _no_reply_in_time(context: Context, response: httpx.Response) -> ExitCode:
    answer = body_of(response)
    if not isinstance(answer, dict):
        raise failure_of(response)
    if context.out.is_json:
        context.out.json(answer)
    execution_id = answer.get("executionId")
    context.out.error(f"{one_line(str(answer.get('error', 'no reply in time')))} (HTTP 504); "
                      f"conflux runs follow {execution_id}")
    return ExitCode.TIMED_OUT


def _run_failed(context: Context, response: httpx.Response) -> ExitCode:
    """The API answers 500 with the execution id when the flow ran and failed (anything else is the API's own)."""
    answer = body_of(response)
    if not isinstance(answer, dict) or "executionId" not in answer:
        raise failure_of(response)
    if context.out.is_json:
        context.out.json(answer)
    context.out.error(f"{one_line(str(answer.get('error')))}; see it with: conflux runs get {answer['executionId']}")
    return ExitCode.FAILED


def _print_reply(context: Context, response: httpx.Response) -> None:
    """The flow's answer: its body as it came (JSON indented); in JSON mode with status and headers."""
    body = body_of(response)
    if context.out.is_json:
        headers = {name: value for name, value in response.headers.items() if name not in REPLY_HEADERS_LEFT_OUT}
        context.out.json({"status": response.status_code, "headers": headers, "body": body})
    elif isinstance(body, str):
        context.out.line(body)
    elif body is not None:
        context.out.json(body)
