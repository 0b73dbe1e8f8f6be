"""``conflux errors list|retry``: a flow's failed messages, newest first, and sending them again as
new executions on the active version (GET /flows/{id}/errors, POST /flows/{id}/errors/retry)."""

import argparse
from typing import Any

from cli.api_client import CliFailure, flow_path, json_argument
from cli.context import Context
from cli.exit_codes import ExitCode
from cli.output import short_time


def list_errors(args: argparse.Namespace, context: Context) -> ExitCode:
    params: dict[str, Any] = {}
    if args.limit is not None:
        params["limit"] = args.limit
    if args.page_token:
        params["pageToken"] = args.page_token
    answer = context.api.json("GET", flow_path(args.flow_id, "errors"), params=params)
    if context.out.is_json:
        context.out.json(answer)
        return ExitCode.OK
    if not answer.get("errors") and not args.page_token:
        context.out.note(f"flow '{args.flow_id}' has no failed messages")  # on stderr, as kubectl says so
        return ExitCode.OK
    context.out.table(["error id", "at", "version", "step", "execution", "retries", "error"], [
        [item.get("errorId"), short_time(item.get("at")), item.get("flowVersion"), item.get("stepId"),
         item.get("executionId"), len(item.get("retries") or []), item.get("error")]
        for item in answer.get("errors", [])])
    if answer.get("nextPageToken"):
        context.out.line(f"\nmore: conflux errors list {args.flow_id} --page-token {answer['nextPageToken']}")
    return ExitCode.OK


def retry_body(args: argparse.Namespace) -> dict[str, Any]:
    """The request; ``--body`` (edit and retry) only with exactly one error, as the API requires."""
    body: dict[str, Any] = {"errorIds": args.error_ids, "fromStep": args.from_step}
    if args.body is not None:
        if len(args.error_ids) != 1:
            raise CliFailure(ExitCode.USAGE, f"--body replaces one message's body: give exactly one error id "
                                             f"(got {len(args.error_ids)})")
        body["body"] = json_argument(args.body, "--body")
    return body


def retry_errors(args: argparse.Namespace, context: Context) -> ExitCode:
    answer = context.api.json("POST", flow_path(args.flow_id, "errors", "retry"), json=retry_body(args))
    if context.out.is_json:
        context.out.json(answer)
        return ExitCode.OK
    retries = answer.get("retries", [])
    context.out.table(["error id", "execution"], [[retry.get("errorId"), retry.get("executionId")]
                                                  for retry in retries])
    if len(retries) == 1:
        context.out.line(f"\nfollow it: conflux runs follow {retries[0].get('executionId')}")
    return ExitCode.OK
