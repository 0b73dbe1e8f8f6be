"""``conflux flows list|get|start|stop|publish``: one API call each; ``--output json`` prints the
API's answer as it is (its shapes are in docs/api.md), the table a person's view of it."""

import argparse
from typing import Any

from cli.api_client import flow_path
from cli.context import Context
from cli.exit_codes import ExitCode
from cli.output import Output, short_time


def list_flows(args: argparse.Namespace, context: Context) -> ExitCode:
    answer = context.api.json("GET", "/flows")
    if context.out.is_json:
        context.out.json(answer)
        return ExitCode.OK
    context.out.table(["id", "name", "type", "trigger", "version", "state", "draft", "created"], [
        [flow.get("id"), flow.get("name"), flow.get("type"), flow.get("triggerType"), flow.get("version"),
         flow.get("state"), flow.get("hasDraft"), short_time(flow.get("createdAt"))]
        for flow in answer.get("flows", [])])
    return ExitCode.OK


def get_flow(args: argparse.Namespace, context: Context) -> ExitCode:
    if args.draft:
        answer = context.api.json("GET", flow_path(args.flow_id, "draft"))
        definition, extra = answer.get("draft") or {}, [("revision", answer.get("revision")),
                                                         ("saved", short_time(answer.get("savedAt")))]
    else:
        params = {"version": args.version} if args.version else None
        response = context.api.call("GET", flow_path(args.flow_id), params=params)
        answer = definition = response.json()
        extra = [("revision", response.headers.get("etag", "").strip('"') or None)]
    if context.out.is_json:
        context.out.json(answer)
    else:
        print_definition(context.out, definition, extra, draft=args.draft)
    return ExitCode.OK


def print_definition(out: Output, flow: dict[str, Any], extra: list[tuple[str, Any]], draft: bool) -> None:
    trigger = flow.get("trigger") or {}
    out.fields([
        ("id", flow.get("id")), ("name", flow.get("name")),
        ("version", "draft" if draft else flow.get("version")), *extra,
        ("type", flow.get("type")),
        ("trigger", f"{trigger.get('id')} ({trigger.get('component')}/{trigger.get('function')}, "
                    f"{trigger.get('type', 'webhook')})"),
    ])
    steps = flow.get("steps") or []
    if steps:
        out.line()
        out.table(["step", "component", "function", "image"], [
            [step.get("id"), step.get("component"), step.get("function"), step.get("image")] for step in steps])


def start_flow(args: argparse.Namespace, context: Context) -> ExitCode:
    return _lifecycle(context, args.flow_id, "start")


def stop_flow(args: argparse.Namespace, context: Context) -> ExitCode:
    return _lifecycle(context, args.flow_id, "stop")


def _lifecycle(context: Context, flow_id: str, action: str) -> ExitCode:
    """Every flow type answers its own status shape; each has flowId and state, and a version as
    ``flowVersion`` (real-time, polling) or ``version`` (webhook)."""
    answer = context.api.json("POST", flow_path(flow_id, action))
    if context.out.is_json:
        context.out.json(answer)
    else:
        version = answer.get("flowVersion", answer.get("version"))
        context.out.line(f"{answer.get('flowId', flow_id)}: {answer.get('state')} (version {version})")
    return ExitCode.OK


def publish_flow(args: argparse.Namespace, context: Context) -> ExitCode:
    """No --version: the draft becomes the active version; --version N: N becomes active again,
    stored as a new version (a rollback)."""
    body = {"version": args.version} if args.version else None
    answer = context.api.json("POST", flow_path(args.flow_id, "publish"), json=body)
    if context.out.is_json:
        context.out.json(answer)
        return ExitCode.OK
    flow_id, version, previous = answer.get("id", args.flow_id), answer.get("version"), answer.get("previousVersion")
    was = f"was v{previous}" if previous is not None else "its first version"
    if answer.get("changed") is False:
        context.out.line(f"{flow_id}: v{version} is active, unchanged ({was})")
    elif args.version:
        context.out.line(f"{flow_id}: v{args.version} made active again as v{version} ({was})")
    else:
        context.out.line(f"{flow_id}: published v{version} ({was})")
    return ExitCode.OK
