"""Assembles the Docker build context of one component image.

The layout is what components/Dockerfile copies: ``conflux_runtime/``, ``lib/`` (components/lib,
the modules every component may import), ``deps/`` (the component's requirements.txt, vendored)
and ``component/``. Only pure-Python wheels are vendored, so the image needs nothing from the base
but python3, and no network while building.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from catalog.components import DOCKERFILE, LIB_DIR, RUNTIME_DIR, ComponentInfo, component_files

REQUIREMENTS_FILE = "requirements.txt"


class VendoringError(Exception):
    """pip could not vendor a component's requirements as pure-Python wheels."""


def assemble(info: ComponentInfo, context: Path) -> Path:
    """Fill ``context`` (an empty directory) and return it."""
    shutil.copy2(DOCKERFILE, context / "Dockerfile")
    runtime = context / "conflux_runtime"
    runtime.mkdir()
    for source in sorted(RUNTIME_DIR.glob("*.py")):
        shutil.copy2(source, runtime / source.name)
    _copy_files(LIB_DIR, context / "lib")
    _copy_files(info.directory, context / "component")
    deps = context / "deps"
    deps.mkdir()
    requirements = info.directory / REQUIREMENTS_FILE
    if requirements.is_file() and _has_requirements(requirements):
        vendor(requirements, deps)
    _make_world_readable(context)
    return context


def _copy_files(source: Path, target: Path) -> None:
    target.mkdir()
    for relative in component_files(source):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, destination)


def vendor(requirements: Path, target: Path) -> None:
    """pip-install the requirements into ``target`` as wheels that run on any platform."""
    command = [
        sys.executable, "-m", "pip", "install", "--target", str(target), "--no-deps",
        "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
        "--disable-pip-version-check", "--no-input", "--root-user-action=ignore", "--quiet",
        "-r", str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise VendoringError(
            f"vendoring {requirements} failed (pip exit {result.returncode}). Components may only use "
            "pure-Python packages (a py3-none-any wheel) whose dependencies are listed too, as pip runs with "
            f"--no-deps.\n{(result.stderr or result.stdout).strip()[-2000:]}"
        )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: never run in a step


def _has_requirements(path: Path) -> bool:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return any(lines)


def _make_world_readable(root: Path) -> None:
    """The container runs as nobody: every file must be readable whatever the builder's umask."""
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            path = Path(directory, name)
            path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
