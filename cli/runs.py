"""``conflux runs get|follow``: what one execution did, step by step (GET /executions/{id}).

``follow`` polls until the run ends and prints each step record once, as it appears; its exit
code is the run's outcome, so a script can wait on a message it sent.
"""

import argparse
import time
from collections.abc import Callable
from typing import Any

from cli.api_client import ApiClient, CliFailure, execution_path
from cli.context import Context
from cli.exit_codes import ExitCode
from cli.output import Output, cell_text, short_time

WAITING = frozenset({"QUEUED", "RUNNING"})


def get_run(args: argparse.Namespace, context: Context) -> ExitCode:
    """Exits 0 whenever the run could be read, whatever its status (``follow`` exits on the outcome)."""
    status = context.api.json("GET", execution_path(args.execution_id))
    if context.out.is_json:
        context.out.json(status)
        return ExitCode.OK
    context.out.fields(run_fields(status))
    records = records_of(status)
    if records:
        context.out.line()
        context.out.table(["step", "component", "message", "status", "ms", "result"],
                          [record_row(record) for record in records])
    return ExitCode.OK


def run_fields(status: dict[str, Any]) -> list[tuple[str, Any]]:
    result = status.get("result") or {}
    totals = result.get("totals")
    return [
        ("execution", status.get("executionId")),
        ("flow", f"{status.get('flowId')} v{status.get('flowVersion')} ({status.get('flowName')})"),
        ("status", status.get("status")),
        ("started", short_time(status.get("startTime"))),
        ("closed", short_time(status.get("closeTime"))),
        ("totals", totals_text(totals) if totals else None),
        ("error", status.get("error")),
        ("temporal", (status.get("links") or {}).get("temporalUi")),
    ]


def record_row(record: dict[str, Any]) -> list[Any]:
    duration = record.get("durationMs")
    return [record.get("stepId"), record.get("component"), record.get("messageId"), record.get("status"),
            round(duration) if isinstance(duration, int | float) else None, record_result(record)]


def record_result(record: dict[str, Any]) -> str:
    if record.get("status") == "failed":
        error, error_type = str(record.get("error")), record.get("errorType") or "error"
        return error if error.startswith(f"{error_type}:") else f"{error_type}: {error}"
    return f"emitted {record.get('emitted', 0)}"


def records_of(status: dict[str, Any]) -> list[dict[str, Any]]:
    return list((status.get("result") or {}).get("records") or [])


def totals_text(totals: dict[str, Any]) -> str:
    return ", ".join(f"{name} {totals.get(key, 0)}" for name, key in (
        ("delivered", "delivered"), ("filtered", "filtered"), ("failed", "failed"), ("step runs", "stepRuns")))


def follow_run(args: argparse.Namespace, context: Context) -> ExitCode:
    follower = Follower(context.api, context.out, args.execution_id)
    return follower.follow(timeout=args.timeout, interval=args.interval)


class Follower:
    """Polls one execution; prints each record the first time it is seen (by step and message)."""

    def __init__(self, api: ApiClient, out: Output, execution_id: str,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.out = out
        self.execution_id = execution_id
        self.clock = clock
        self.sleep = sleep
        self.seen: set[tuple[Any, Any]] = set()
        self.last_status: str | None = None

    def follow(self, timeout: float | None, interval: float) -> ExitCode:
        deadline = None if timeout is None else self.clock() + timeout
        while True:
            status = self.api.json("GET", execution_path(self.execution_id))
            self._show(status)
            if status.get("status") not in WAITING:
                return self._end(status)
            if deadline is not None and self.clock() >= deadline:
                raise CliFailure(ExitCode.TIMED_OUT, f"{self.execution_id} is still {status.get('status')} after "
                                                     f"{timeout:g}s; it goes on (conflux runs follow "
                                                     f"{self.execution_id} to watch it again)")
            self.sleep(interval)

    def _show(self, status: dict[str, Any]) -> None:
        if status.get("status") != self.last_status and status.get("status") in WAITING and not self.out.is_json:
            self.out.line(f"{self.execution_id}: {status.get('status')}")
        self.last_status = status.get("status")
        for record in records_of(status):
            key = (record.get("stepId"), record.get("messageId"))
            if key in self.seen:
                continue
            self.seen.add(key)
            if self.out.is_json:
                self.out.json_line({"event": "step", "record": record})
            else:
                self.out.line(step_line(record))

    def _end(self, status: dict[str, Any]) -> ExitCode:
        completed = status.get("status") == "COMPLETED"
        if self.out.is_json:
            self.out.json_line({"event": "end", "execution": status})
        else:
            result = status.get("result") or {}
            totals = f": {totals_text(result['totals'])}" if result.get("totals") else ""
            self.out.line(f"{self.execution_id}: {status.get('status')}{totals}")
            if result.get("recordsDropped"):
                self.out.note(f"{result['recordsDropped']} more step records are not kept; the totals count them")
        if not completed:
            self.out.error(f"{self.execution_id} ended {status.get('status')}: {cell_text(status.get('error'), None)}")
        return ExitCode.OK if completed else ExitCode.FAILED


def step_line(record: dict[str, Any]) -> str:
    """One streaming line per step record; fixed order, no table (rows arrive one at a time)."""
    duration = record.get("durationMs")
    took = f" {round(duration)} ms" if isinstance(duration, int | float) else ""
    return (f"{record.get('status', '?'):<6} {record.get('stepId')} ({record.get('component')}{took}) "
            f"message {record.get('messageId')}: {cell_text(record_result(record), 200)}")
