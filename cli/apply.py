"""``conflux apply``: make the API hold what the files say, file by file. Each file is saved as its
flow's draft and published (``--draft``: only saved); a file that fails is reported with its
problems and the others still go through.

An API without drafts (PUT /flows/{id}/draft answers 404 or 405) gets ``PUT /flows/{id}``
instead, which saves and publishes in one call: the same end state, so flows as code work
against every API version; only ``--draft`` needs the drafts API.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cli.api_client import ApiClient, CliFailure, body_of, flow_path
from cli.context import Context
from cli.exit_codes import ExitCode
from cli.flow_files import FlowFile, find_flow_files, read_flow_file
from cli.output import Output

Result = Literal["created", "updated", "unchanged", "draft saved", "failed"]
NO_DRAFTS_ROUTE = (404, 405)


@dataclass
class Applied:
    """What became of one file; ``as_json`` is the stable shape ``--output json`` prints."""

    file: str
    flow_id: str | None
    result: Result
    version: int | None = None
    revision: str | None = None
    error: str | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    code: ExitCode = ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "flowId": self.flow_id, "result": self.result, "version": self.version,
                "revision": self.revision, "error": self.error, "problems": self.problems}


class Applier:
    """Sends files one by one; finds out once whether the API has drafts."""

    def __init__(self, api: ApiClient, out: Output, draft_only: bool) -> None:
        self.api = api
        self.out = out
        self.draft_only = draft_only
        self.has_drafts = True

    def apply(self, path: Path) -> Applied:
        """Never raises for one file's failure; an API that cannot be reached stops the whole apply."""
        flow_id = None
        try:
            flow_file = read_flow_file(path)
            flow_id = flow_file.flow_id
            return self._send(flow_file)
        except CliFailure as failure:
            if failure.code == ExitCode.UNAVAILABLE and failure.status is None:
                raise
            return Applied(file=str(path), flow_id=flow_id, result="failed", error=failure.message,
                           problems=failure.problems, code=failure.code)

    def _send(self, flow_file: FlowFile) -> Applied:
        if self.has_drafts:
            draft = self.api.call("PUT", flow_path(flow_file.flow_id, "draft"), json=flow_file.definition,
                                  allow=NO_DRAFTS_ROUTE)
            if draft.status_code not in NO_DRAFTS_ROUTE:
                return self._draft_saved(flow_file, body_of(draft))
            self.has_drafts = False
            self.out.note(f"this API has no drafts (PUT /flows/{{id}}/draft answered {draft.status_code}); "
                          "applying with PUT /flows/{id}, which saves and publishes in one call")
        if self.draft_only:
            raise CliFailure(ExitCode.FAILED, "this API has no drafts, so --draft cannot save one; apply without "
                                              "--draft to save and publish, or update the API")
        return self._published(flow_file, self.api.json("PUT", flow_path(flow_file.flow_id),
                                                        json=flow_file.definition))

    def _draft_saved(self, flow_file: FlowFile, draft: dict[str, Any]) -> Applied:
        if self.draft_only:
            return Applied(file=str(flow_file.path), flow_id=flow_file.flow_id, result="draft saved",
                           revision=draft.get("revision"))
        return self._published(flow_file, self.api.json("POST", flow_path(flow_file.flow_id, "publish")))

    def _published(self, flow_file: FlowFile, saved: dict[str, Any]) -> Applied:
        """From a FlowSaved answer (PUT /flows/{id}, or publish's, which adds previousVersion)."""
        if saved.get("created") or ("previousVersion" in saved and saved["previousVersion"] is None):
            result: Result = "created"
        elif saved.get("changed") is False:
            result = "unchanged"
        else:
            result = "updated"
        return Applied(file=str(flow_file.path), flow_id=flow_file.flow_id, result=result,
                       version=saved.get("version"), revision=saved.get("revision"))


def run_apply(args: argparse.Namespace, context: Context) -> ExitCode:
    applier = Applier(context.api, context.out, draft_only=args.draft)
    results = []
    for path in find_flow_files(args.paths):
        applied = applier.apply(path)
        results.append(applied)
        report(context.out, applied)
    if context.out.is_json:
        context.out.json({"results": [applied.as_json() for applied in results]})
    return max((applied.code for applied in results), default=ExitCode.OK)


def report(out: Output, applied: Applied) -> None:
    """As each file is done: its outcome on stdout (table mode), its failure and problems on stderr."""
    if applied.result == "failed":
        out.error(f"{applied.file}: {applied.error}")
        out.problems(applied.problems)
        return
    if out.is_json:
        return
    outcome = {"draft saved": f"draft saved (revision {applied.revision}; "
                              f"conflux flows publish {applied.flow_id} makes it active)"}.get(
        applied.result, f"{applied.result} v{applied.version}")
    out.line(f"{applied.file}: {applied.flow_id} {outcome}")
