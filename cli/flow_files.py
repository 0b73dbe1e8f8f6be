"""Which files ``apply`` sends, read exactly as the platform reads them (flows/loader.py: YAML or
JSON, ``${NAME}`` replaced from the environment), so a file behaves the same from the CLI and
from the local stack."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.api_client import CliFailure
from cli.exit_codes import ExitCode


@dataclass
class FlowFile:
    path: Path
    definition: dict[str, Any]

    @property
    def flow_id(self) -> str:
        return str(self.definition["id"])


def flow_suffixes() -> tuple[str, ...]:
    from flows.loader import FLOW_SUFFIXES  # imported when used: `conflux --help` stays fast

    return FLOW_SUFFIXES


def find_flow_files(paths: list[Path]) -> list[Path]:
    """Each file as given, each folder's flow files (not its subfolders), sorted, each once. A path
    that does not exist, or a folder without flow files, is a usage error before anything is sent."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in flow_suffixes())
            if not inside:
                raise CliFailure(ExitCode.USAGE, f"{path} holds no flow files ({', '.join(flow_suffixes())})")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise CliFailure(ExitCode.USAGE, f"{path} does not exist; give flow files or folders of them")
    return list(dict.fromkeys(found))


def read_flow_file(path: Path) -> FlowFile:
    """The parsed definition; a CliFailure with the file's problems (``body.problems``) when it
    cannot be parsed or has no id, so they print like the API's 422."""
    from flows.loader import read_definition
    from flows.validation import FlowInvalid

    try:
        definition = read_definition(path)
    except FlowInvalid as exc:
        problems = [problem.model_dump() for problem in exc.problems]
        raise CliFailure(ExitCode.FAILED, f"{path} cannot be read", body={"problems": problems}) from None
    except OSError as exc:
        raise CliFailure(ExitCode.FAILED, f"{path} cannot be read ({exc.strerror})") from None
    if not isinstance(definition, dict) or not isinstance(definition.get("id"), str):
        raise CliFailure(ExitCode.FAILED, f"{path} is not a flow definition: it needs a mapping with an 'id' "
                                          "(see examples/flows/)")
    return FlowFile(path=path, definition=definition)
