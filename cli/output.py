"""Where and how a command prints: tables for people, JSON for scripts (stdout), errors and notes
on stderr so a pipe only ever sees the answer."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TextIO

OutputMode = Literal["table", "json"]
CELL_WIDTH = 60


@dataclass
class Output:
    mode: OutputMode
    out: TextIO
    err: TextIO

    @property
    def is_json(self) -> bool:
        return self.mode == "json"

    def json(self, data: Any) -> None:
        """One JSON document, indented: what ``--output json`` prints for a one-answer command."""
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def json_line(self, data: Any) -> None:
        """One compact JSON document per line, for commands that print as things happen."""
        self.out.write(json.dumps(data, ensure_ascii=False) + "\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.out.write(render_table(columns, rows))

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self.out.write(render_fields(pairs))

    def problems(self, problems: Sequence[dict[str, Any]]) -> None:
        """A 422's problems, one per line under the error line."""
        for problem in problems:
            self.err.write(f"  - {problem.get('where', '?')}: {problem.get('problem', '?')}\n")

    def error(self, text: str) -> None:
        self.err.write(f"error: {text}\n")
        self.err.flush()

    def note(self, text: str) -> None:
        self.err.write(f"note: {text}\n")
        self.err.flush()


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """kubectl-style: upper-case headers, columns two spaces apart, long cells cut with '…'."""
    cells = [[column.upper() for column in columns], *[[cell_text(value) for value in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines) + "\n"


def render_fields(fields: Sequence[tuple[str, Any]]) -> str:
    """A name/value block for one object (``runs get``, ``flows get``)."""
    width = max(len(name) for name, _ in fields)
    return "".join(f"{name.upper().ljust(width)}  {cell_text(value, limit=None)}\n" for name, value in fields)


def cell_text(value: Any, limit: int | None = CELL_WIDTH) -> str:
    """None as '-', lists joined, everything on one line, cut at ``limit`` characters."""
    if value is None or value == "":
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        text = ", ".join(cell_text(item, None) for item in value) or "-"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = " ".join(str(value).split())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def short_time(value: Any) -> str | None:
    """'2026-11-22T12:34:46.737161Z' -> '2026-11-22 12:34:46': the API's times, readable in a table."""
    if not isinstance(value, str) or "T" not in value:
        return value if isinstance(value, str) else None
    day, _, clock = value.partition("T")
    return f"{day} {clock[:8]}"
