"""Reads flow definitions from YAML or JSON files."""

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flows.validation import FlowInvalid, Problem

FLOW_SUFFIXES = (".yaml", ".yml", ".json")


ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_definition(path: Path, environ: Mapping[str, str] = os.environ) -> Any:
    """Parse a flow file; ``${NAME}`` is replaced by the environment variable NAME (a missing one is an error)."""
    text = expand_environment(path, path.read_text(encoding="utf-8"), environ)
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        problem = Problem(where="(file)", problem=f"not valid {path.suffix[1:].upper()}: {exc}")
        raise FlowInvalid(str(path), [problem]) from None


def expand_environment(path: Path, text: str, environ: Mapping[str, str]) -> str:
    missing = sorted({name for name in ENV_REFERENCE.findall(text) if name not in environ})
    if missing:
        raise FlowInvalid(str(path), [Problem(where="(file)", problem=f"environment variable {name} is not set "
                                              f"(the file references ${{{name}}})") for name in missing])
    return ENV_REFERENCE.sub(lambda match: environ[match.group(1)], text)
