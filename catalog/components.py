"""What components exist, what they offer and which image runs each.

The image tag carries a digest of everything that ends up in the image (runtime, shared component
library, component files, Dockerfile, base image name), so a changed component can never be served
by a stale image.

A component runs on one of two in-container runtimes: Python (conflux_runtime/) or Node.js
(conflux_runtime_node/, for components written for elastic.io's Node.js sailor). A component with
a package.json, or whose triggers and actions name JavaScript files, is a Node.js component.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from conflux_runtime.descriptor import DESCRIPTOR_FILE, read_descriptor
from conflux_runtime.errors import ComponentError

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILTIN_DIR = REPO_ROOT / "components"
RUNTIME_DIR = REPO_ROOT / "conflux_runtime"
LIB_DIR = BUILTIN_DIR / "lib"  # modules every component may import (no component.json: not a component)
DOCKERFILE = BUILTIN_DIR / "Dockerfile"
LOCAL_BASE_IMAGE = "conflux/base:bookworm"
NODE_RUNTIME_DIR = REPO_ROOT / "conflux_runtime_node"
NODE_DOCKERFILE = BUILTIN_DIR / "Dockerfile.node"
LOCAL_NODE_BASE_IMAGE = "conflux/node-base:bookworm"
PACKAGE_FILE = "package.json"
JAVASCRIPT_SUFFIXES = (".js", ".cjs")
IMAGE_REPOSITORY = "conflux"

_NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"}  # npm installs into the image


class CatalogError(Exception):
    """A component directory that cannot be used, with the file at fault and how to fix it."""


def default_base_image() -> str:
    """$CONFLUX_BASE_IMAGE, else the locally built debootstrap image (no registry needed)."""
    return os.environ.get("CONFLUX_BASE_IMAGE") or LOCAL_BASE_IMAGE


def default_node_base_image() -> str:
    """$CONFLUX_NODE_BASE_IMAGE (e.g. node:20-slim), else the locally built debootstrap image with
    Debian's nodejs (no registry needed)."""
    return os.environ.get("CONFLUX_NODE_BASE_IMAGE") or LOCAL_NODE_BASE_IMAGE


Runtime = Literal["python", "node"]


def component_runtime(directory: Path, descriptor: dict[str, Any]) -> Runtime:
    """``node`` for a component with a package.json or JavaScript ``main`` files, else ``python``."""
    if (directory / PACKAGE_FILE).is_file():
        return "node"
    mains = [spec.get("main") for section in ("triggers", "actions")
             for spec in (descriptor.get(section) or {}).values() if isinstance(spec, dict)]
    javascript = [main for main in mains if isinstance(main, str) and main.endswith(JAVASCRIPT_SUFFIXES)]
    return "node" if javascript else "python"


class ComponentInfo(BaseModel):
    """One component as the platform sees it: its descriptor and the image that runs it."""

    model_config = ConfigDict(frozen=True)

    name: str
    directory: Path
    descriptor: dict[str, Any]
    version: str
    digest: str
    base_image: str
    runtime: Runtime = "python"

    @property
    def title(self) -> str:
        return str(self.descriptor.get("title", self.name))

    @computed_field  # type: ignore[prop-decorator]  # mypy refuses decorators over @property; pydantic says so
    @property
    def image(self) -> str:
        """The exact image for this content: ``conflux/NAME:VERSION-DIGEST12``."""
        return f"{self.repository}:{self.version}-{self.digest[:12]}"

    @property
    def repository(self) -> str:
        return f"{IMAGE_REPOSITORY}/{self.name}"

    @property
    def triggers(self) -> dict[str, dict[str, Any]]:
        return dict(self.descriptor.get("triggers") or {})

    @property
    def actions(self) -> dict[str, dict[str, Any]]:
        return dict(self.descriptor.get("actions") or {})

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Every trigger and action by name."""
        return {**self.triggers, **self.actions}

    def function_spec(self, name: str) -> dict[str, Any]:
        """The trigger or action called ``name``; KeyError lists what exists."""
        spec = self.functions.get(name)
        if spec is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise KeyError(f"component '{self.name}' has no trigger or action '{name}' (it has: {known})")
        return spec

    def trigger_type(self, name: str) -> str:
        """``polling`` or ``webhook`` (the default, as on elastic.io)."""
        return str(self.triggers[name].get("type", "webhook"))


def load_component(directory: Path | str, base_image: str | None = None,
                   node_base_image: str | None = None) -> ComponentInfo:
    """Read and check one component directory; ``base_image`` is for a Python component,
    ``node_base_image`` for a Node.js one."""
    directory = Path(directory).resolve()
    name = directory.name
    path = directory / DESCRIPTOR_FILE
    descriptor = _read_descriptor(path)
    if not _NAME_PATTERN.match(name):
        raise CatalogError(
            f"component directory name '{name}' ({directory}) cannot be an image name: "
            "use lowercase letters, digits and single '-', '_' or '.' between them"
        )
    runtime = component_runtime(directory, descriptor)
    _check_descriptor(path, descriptor, runtime)
    if runtime == "node":
        base = node_base_image or default_node_base_image()
    else:
        base = base_image or default_base_image()
    return ComponentInfo(
        name=name,
        directory=directory,
        descriptor=descriptor,
        version=str(descriptor["version"]),
        digest=content_digest(directory, base, runtime),
        base_image=base,
        runtime=runtime,
    )


def load_catalog(extra_dirs: Sequence[Path | str] = (), base_image: str | None = None,
                 node_base_image: str | None = None) -> dict[str, ComponentInfo]:
    """The built-ins plus user components, by name.

    Each entry of ``extra_dirs`` is a component directory, or a directory of component directories.
    """
    found: dict[str, ComponentInfo] = {}
    for directory in [*component_dirs(BUILTIN_DIR), *(d for extra in extra_dirs for d in component_dirs(Path(extra)))]:
        info = load_component(directory, base_image, node_base_image)
        if info.name in found:
            raise CatalogError(
                f"two components are named '{info.name}': {found[info.name].directory} and {info.directory}; "
                "rename one of the directories"
            )
        found[info.name] = info
    return found


def component_dirs(directory: Path) -> list[Path]:
    """``directory`` itself if it is a component, else its component subdirectories."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise CatalogError(f"component directory {directory} does not exist")
    if (directory / DESCRIPTOR_FILE).is_file():
        return [directory]
    found = sorted(child for child in directory.iterdir() if (child / DESCRIPTOR_FILE).is_file())
    if not found:
        raise CatalogError(f"{directory} holds no {DESCRIPTOR_FILE}, nor do its subdirectories: "
                           "it is not a component directory")
    return found


def content_digest(directory: Path, base_image: str, runtime: Runtime = "python") -> str:
    """sha256 over the runtime, the shared library (Python), the component's files (a Node.js
    component's package.json and package-lock.json among them), the Dockerfile and the base image name."""
    digest = hashlib.sha256()
    if runtime == "node":
        entries = [(f"runtime/{p.name}", p) for p in sorted(NODE_RUNTIME_DIR.glob("*.js"))]
        entries.append(("Dockerfile", NODE_DOCKERFILE))
    else:
        entries = [(f"runtime/{p.name}", p) for p in sorted(RUNTIME_DIR.glob("*.py"))]
        entries += [(f"lib/{rel}", LIB_DIR / rel) for rel in component_files(LIB_DIR)]
        entries.append(("Dockerfile", DOCKERFILE))
    entries += [(f"component/{rel}", directory / rel) for rel in component_files(directory)]
    for label, path in sorted(entries):
        digest.update(f"{label}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    digest.update(f"base\0{base_image}".encode())
    return digest.hexdigest()


def component_files(directory: Path) -> list[str]:
    """The files that belong in the image, relative and sorted (caches and hidden files left out)."""
    files = []
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if not path.is_file() or path.suffix == ".pyc":
            continue
        if any(part in _IGNORED_PARTS or part.startswith(".") for part in relative.parts):
            continue
        files.append(relative.as_posix())
    return sorted(files)


def _read_descriptor(path: Path) -> dict[str, Any]:
    try:
        return read_descriptor(path)
    except ComponentError as exc:
        raise CatalogError(str(exc)) from None


def _check_descriptor(path: Path, descriptor: dict[str, Any], runtime: Runtime = "python") -> None:
    """The checks that catch the usual mistakes before an image is built from them."""
    for key in ("title", "version"):
        if not isinstance(descriptor.get(key), str) or not descriptor[key]:
            raise CatalogError(f"{path}: '{key}' is required (a non-empty string)")
    functions: dict[str, Any] = {}
    for section in ("triggers", "actions"):
        entries = descriptor.get(section) or {}
        if not isinstance(entries, dict):
            raise CatalogError(f"{path}: '{section}' must be an object of name -> definition")
        for name, spec in entries.items():
            if name in functions:
                raise CatalogError(f"{path}: '{name}' is both a trigger and an action; names must be unique")
            functions[name] = spec
            _check_function(path, f"{section}.{name}", spec, runtime)
    if not functions:
        raise CatalogError(f"{path}: the component has no triggers and no actions")
    verifier = (descriptor.get("credentials") or {}).get("verifier")
    if verifier is not None:
        _check_reference(path, "credentials.verifier", verifier, runtime)


def _check_function(path: Path, where: str, spec: Any, runtime: Runtime = "python") -> None:
    if not isinstance(spec, dict):
        raise CatalogError(f"{path}: {where} must be an object")
    _check_reference(path, f"{where}.main", spec.get("main"), runtime)
    if where.startswith("triggers.") and spec.get("type", "webhook") not in ("polling", "webhook"):
        raise CatalogError(f"{path}: {where}.type must be 'polling' or 'webhook', not {spec.get('type')!r}")
    if not isinstance(spec.get("fields", {}), dict):
        raise CatalogError(f"{path}: {where}.fields must be an object of field name -> definition")


def _check_reference(path: Path, where: str, reference: Any, runtime: Runtime = "python") -> None:
    """A function reference is "file.py" or "file.py:function" (Python), or a module's path such as
    "./lib/actions/send.js" (Node.js, as on elastic.io), relative to the component."""
    if runtime == "node":
        if not isinstance(reference, str) or not reference:
            raise CatalogError(f"{path}: {where} is required: the module's path, e.g. \"./lib/actions/send.js\"")
        if not any((path.parent / candidate).is_file() for candidate in (reference, f"{reference}.js")):
            raise CatalogError(f"{path}: {where} names {reference}, which is not in {path.parent}")
        return
    if not isinstance(reference, str) or not reference:
        raise CatalogError(f"{path}: {where} is required: \"file.py\" or \"file.py:function\"")
    module = reference.partition(":")[0]
    if not (path.parent / module).is_file():
        raise CatalogError(f"{path}: {where} names {module}, which is not in {path.parent}")
