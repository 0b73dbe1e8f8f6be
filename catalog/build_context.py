"""Assembles the Docker build context of one component image.

The layout is what components/Dockerfile copies: ``conflux_runtime/``, ``lib/`` (components/lib,
the modules every component may import), ``deps/`` (the component's requirements.txt, vendored)
and ``component/``. Only pure-Python wheels are vendored, so the image needs nothing from the base
but python3, and no network while building.

A Node.js component's context is what components/Dockerfile.node copies: ``runtime/``
(conflux_runtime_node) and ``component/`` with its ``node_modules``. The dependencies in its
package.json are installed here, on the building host, from the npm registry (``npm ci`` when
there is a package-lock.json), because the image build itself has no network (the Docker engine
runs without a bridge) and because the image then needs no npm, only node. Without a lock file
``npm install`` resolves the versions at build time, which the image's digest does not cover: the
build warns. Install scripts are not run (``--ignore-scripts``): a dependency's script would
otherwise run on the platform's host, and a native addon compiled there would not match the
image's Node.js anyway; such packages fail at start with a ``fatal`` naming the module.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from catalog.components import (
    DOCKERFILE,
    LIB_DIR,
    NODE_DOCKERFILE,
    NODE_RUNTIME_DIR,
    PACKAGE_FILE,
    RUNTIME_DIR,
    ComponentInfo,
    component_files,
)

log = logging.getLogger("conflux.build")

REQUIREMENTS_FILE = "requirements.txt"
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json")
NPM_FLAGS = ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]


class VendoringError(Exception):
    """pip could not vendor a component's requirements as pure-Python wheels."""


def assemble(info: ComponentInfo, context: Path, timeout_seconds: float) -> Path:
    """Fill ``context`` (an empty directory) and return it; installing a Node.js component's
    dependencies may take up to ``timeout_seconds``."""
    if info.runtime == "node":
        return _assemble_node(info, context, timeout_seconds)
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


def _assemble_node(info: ComponentInfo, context: Path, timeout_seconds: float) -> Path:
    shutil.copy2(NODE_DOCKERFILE, context / "Dockerfile")
    runtime = context / "runtime"
    runtime.mkdir()
    for source in sorted(NODE_RUNTIME_DIR.glob("*.js")):
        shutil.copy2(source, runtime / source.name)
    _copy_files(info.directory, context / "component")
    install_node_modules(context / "component", timeout_seconds, origin=info.directory)
    _make_world_readable(context)
    return context


def install_node_modules(component: Path, timeout_seconds: float, origin: Path | None = None) -> None:
    """npm-install the production dependencies of the package.json in ``component`` (a copy of the
    component's folder ``origin``, which messages name) into its node_modules; nothing to do
    without dependencies. npm taking longer than ``timeout_seconds`` is a VendoringError."""
    origin = origin or component
    package = component / PACKAGE_FILE
    if not package.is_file() or not _has_dependencies(package):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise VendoringError(f"{origin / PACKAGE_FILE} lists dependencies, but this host has no npm to install "
                             "them: install Node.js and npm (deploy/node_tools.sh; the image build has no network "
                             "to do it)")
    locked = any((component / name).is_file() for name in LOCK_FILES)
    if not locked:
        log.warning("%s has no package-lock.json: `npm install` resolves its dependencies' versions now, and a later "
                    "build of the same image tag may get other versions; commit a lock file (`npm install` "
                    "writes one) for reproducible images", origin)
    command = [npm, "ci" if locked else "install", *NPM_FLAGS, *([] if locked else ["--no-package-lock"])]
    try:
        result = subprocess.run(command, cwd=component, capture_output=True, text=True, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        raise VendoringError(f"installing the npm dependencies of {origin / PACKAGE_FILE} did not finish within "
                             f"{timeout_seconds:g}s (`npm {command[1]}`): check that this host reaches the npm "
                             "registry (`npm config get registry`; a proxy goes in `npm config set proxy`)") from None
    if result.returncode != 0:
        raise VendoringError(f"installing the npm dependencies of {origin / PACKAGE_FILE} failed "
                             f"(`npm {command[1]}` exit {result.returncode}; is the npm registry reachable from "
                             f"this host?):\n{(result.stderr or result.stdout).strip()[-2000:]}")


def _has_dependencies(package: Path) -> bool:
    try:
        manifest = json.loads(package.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise VendoringError(f"{package} is not valid JSON: {exc}") from None
    return isinstance(manifest, dict) and bool(manifest.get("dependencies"))


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
