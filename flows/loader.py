"""Reads flow definitions from YAML or JSON files."""

import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from components.catalog import ComponentInfo
from flows.model import Flow
from flows.validation import FlowInvalid, Problem, parse_flow

FLOW_SUFFIXES = (".yaml", ".yml", ".json")


def read_definition(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise FlowInvalid(str(path), [Problem(where="(file)", problem=f"not valid {path.suffix[1:].upper()}: {exc}")]) from None


def load_flow_file(path: Path, catalog: Mapping[str, ComponentInfo]) -> Flow:
    return parse_flow(read_definition(path), catalog, source=str(path))


def load_flow_dir(directory: Path, catalog: Mapping[str, ComponentInfo]) -> list[Flow]:
    """Every flow file of a folder, sorted by name; the first invalid one raises with all its problems."""
    return [load_flow_file(path, catalog) for path in sorted(directory.iterdir()) if path.suffix in FLOW_SUFFIXES]
