"""The command line: ``conflux <command> [<subcommand>] ...``, each with its own ``--help``.

``--api`` and ``--output`` are taken before or after the command (``conflux -o json flows list``
and ``conflux flows list -o json``), as kubectl users type them.
"""

import argparse
import os
from pathlib import Path

from cli import apply, error_commands, flow_commands, runs, send
from cli.api_client import DEFAULT_API_URL, DEFAULT_TIMEOUT
from cli.exit_codes import EXIT_CODES_HELP

DESCRIPTION = "Conflux from the command line: flows kept as files, messages, runs and their errors."
EXAMPLES = """examples:
  conflux apply flows/                     save and publish every flow file of a folder
  conflux flows list                        every flow, its active version and state
  conflux send orders --body '{"customer": "acme"}' --wait
  conflux runs follow orders:4f1c…          each step as it completes; exit 0 when the run completed
  conflux errors list orders -o json        a flow's failed messages, for a script
"""
APPLY_DESCRIPTION = """Save each flow file as its flow's draft and publish it (with --draft: only save the draft).
Prints one line per file: created vN, updated vN, unchanged vN or draft saved. A file that fails
(its problems listed on stderr) does not stop the others; the exit code is then 1.
Against an API without drafts, each file is saved with PUT /flows/{id} (saved and published in one)."""
SEND_DESCRIPTION = """Send a flow one message (POST /flows/{id}/executions) and print its execution id.
With --wait, wait for the flow's reply and print it instead: the first httpReply a step emits,
or with --reply last the last step's output; exit 1 when the run failed, 4 when no reply comes within
the timeout (the run goes on)."""
FOLLOW_DESCRIPTION = """Print each step of an execution as it completes, until the run ends.
Exit 0 when it completed, 1 when it failed (or was cancelled or terminated), 4 after --timeout."""


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {text})")
    return value


def common_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes. Below the top level they default to "not given", so a
    value given before the command is not overwritten by the subcommand's default."""
    options = argparse.ArgumentParser(add_help=False)
    default = (lambda value: value) if defaults else (lambda value: argparse.SUPPRESS)
    options.add_argument("--api", metavar="URL", default=default(os.environ.get("CONFLUX_API_URL", DEFAULT_API_URL)),
                         help=f"the API's base URL (default: $CONFLUX_API_URL or {DEFAULT_API_URL})")
    options.add_argument("--token", metavar="TOKEN", default=default(os.environ.get("CONFLUX_TOKEN")),
                         help="the API token (default: $CONFLUX_TOKEN; the local stack prints one)")
    options.add_argument("-o", "--output", choices=["table", "json"], default=default("table"),
                         help="table (default, for people) or json (the API's answer as it is, for scripts)")
    options.add_argument("--request-timeout", metavar="S", type=positive_float, default=default(DEFAULT_TIMEOUT),
                         help=f"seconds to wait for each API answer (default {DEFAULT_TIMEOUT:g})")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conflux", description=DESCRIPTION, parents=[common_options(True)],
                                     epilog=f"{EXAMPLES}\n{EXIT_CODES_HELP}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options(False)

    def command(group: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, summary: str,
                description: str | None = None) -> argparse.ArgumentParser:
        return group.add_parser(name, help=summary, description=description or summary, parents=[common],
                                epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)

    add_apply(command(commands, "apply", "save and publish flow files (YAML or JSON)", APPLY_DESCRIPTION))

    flows = command(commands, "flows", "list, read, start, stop and publish flows")
    flow_group = flows.add_subparsers(dest="flows_command", metavar="SUBCOMMAND", required=True)
    command(flow_group, "list", "every flow with its active version and state").set_defaults(
        handler=flow_commands.list_flows)
    get = command(flow_group, "get", "one flow's definition (the active version unless --version or --draft)")
    get.add_argument("flow_id", metavar="FLOW")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--version", type=positive_int, metavar="N", help="this stored version")
    which.add_argument("--draft", action="store_true", help="the flow's draft")
    get.set_defaults(handler=flow_commands.get_flow)
    for name, summary, handler in (
            ("start", "start a flow: a webhook flow takes messages, a polling flow polls, a real-time flow warms up",
             flow_commands.start_flow),
            ("stop", "stop a flow; runs it already accepted go on", flow_commands.stop_flow)):
        lifecycle = command(flow_group, name, summary)
        lifecycle.add_argument("flow_id", metavar="FLOW")
        lifecycle.set_defaults(handler=handler)
    publish = command(flow_group, "publish", "make the draft the active version, or (--version N) an earlier one "
                                             "again")
    publish.add_argument("flow_id", metavar="FLOW")
    publish.add_argument("--version", type=positive_int, metavar="N",
                         help="roll back: version N becomes active again, stored as a new version")
    publish.set_defaults(handler=flow_commands.publish_flow)

    add_send(command(commands, "send", "send a flow one message", SEND_DESCRIPTION))

    run_group = command(commands, "runs", "what an execution did, step by step").add_subparsers(
        dest="runs_command", metavar="SUBCOMMAND", required=True)
    run_get = command(run_group, "get", "an execution's status and step records (exit 0 whatever its status)")
    run_get.add_argument("execution_id", metavar="EXECUTION_ID")
    run_get.set_defaults(handler=runs.get_run)
    add_follow(command(run_group, "follow", "print each step as it completes until the run ends",
                       FOLLOW_DESCRIPTION))

    error_group = command(commands, "errors", "a flow's failed messages, and retrying them").add_subparsers(
        dest="errors_command", metavar="SUBCOMMAND", required=True)
    add_error_list(command(error_group, "list", "a flow's failed messages, newest first"))
    add_error_retry(command(error_group, "retry", "send failed messages again as new executions on the active "
                                                  "version"))
    return parser


def add_apply(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="flow files, or folders whose *.yaml, *.yml and *.json files are applied (not their "
                             "subfolders); ${NAME} in a file is replaced by the environment variable NAME")
    parser.add_argument("--draft", action="store_true", help="only save each file as its flow's draft; publish later "
                                                             "with conflux flows publish")
    parser.set_defaults(handler=apply.run_apply)


def add_send(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow_id", metavar="FLOW")
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--body", metavar="JSON", help="the message body (default: {})")
    body.add_argument("--body-file", metavar="FILE", help="read the body from FILE; - reads stdin")
    parser.add_argument("--idempotency-key", metavar="KEY",
                        help="the message's id: the same key sent again starts nothing new (docs/api.md)")
    parser.add_argument("--wait", action="store_true", help="wait for the flow's reply and print it")
    parser.add_argument("--reply", choices=["first", "last"],
                        help="with --wait: the first httpReply a step emits (default), or the last step's output")
    parser.add_argument("--timeout", type=positive_float, metavar="S",
                        help="with --wait: seconds to wait for the reply (default: the flow's, 30 s unless set)")
    parser.set_defaults(handler=send.send)


def add_follow(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("execution_id", metavar="EXECUTION_ID")
    parser.add_argument("--timeout", type=positive_float, metavar="S",
                        help="give up after S seconds with exit code 4 (default: wait until the run ends)")
    parser.add_argument("--interval", type=positive_float, metavar="S", default=0.5,
                        help="seconds between two looks at the run (default 0.5)")
    parser.set_defaults(handler=runs.follow_run)


def add_error_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow_id", metavar="FLOW")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="at most N errors (the API's default "
                                                                        "otherwise)")
    parser.add_argument("--page-token", metavar="T", help="the next page, from the previous answer's nextPageToken")
    parser.set_defaults(handler=error_commands.list_errors)


def add_error_retry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow_id", metavar="FLOW")
    parser.add_argument("error_ids", nargs="+", metavar="ERROR_ID")
    parser.add_argument("--from-step", action="store_true",
                        help="start at the failed step with its recorded input; the steps before it do not run again")
    parser.add_argument("--body", metavar="JSON", help="edit and retry: this body replaces the message's (exactly "
                                                       "one ERROR_ID)")
    parser.set_defaults(handler=error_commands.retry_errors)
