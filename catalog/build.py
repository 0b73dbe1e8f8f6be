"""Builds one image per component: ``python -m catalog.build [--only NAME ...] [--force]``.

Each image is tagged ``conflux/NAME:VERSION-DIGEST12`` (the exact content, what the platform
runs) and ``conflux/NAME:VERSION``. An image whose digest tag exists is not built again, since
the digest covers everything that goes into it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from catalog.base_image import BaseImageError, ensure_base_image, image_exists
from catalog.build_context import VendoringError, assemble
from catalog.components import CatalogError, ComponentInfo, default_base_image, default_node_base_image, load_catalog

BUILD_TIMEOUT_SECONDS = 600


class ImageBuildError(Exception):
    """Docker refused to build a component image; the message ends with the build log."""


@dataclass(frozen=True)
class BuildResult:
    name: str
    image: str
    status: str  # "built" or "cached"
    seconds: float

    def line(self) -> str:
        return f"{self.name:<16} {self.image:<48} {self.status:<6} {self.seconds:6.1f}s"


def build_all(
    *,
    base_image: str | None = None,
    node_base_image: str | None = None,
    only: Sequence[str] = (),
    component_dirs: Sequence[Path | str] = (),
    force: bool = False,
    client: docker.DockerClient | None = None,
    report: Callable[[str], None] | None = print,
) -> list[BuildResult]:
    """Build (or find cached) the images of the built-ins and ``component_dirs``; ``only`` narrows it.
    Python components build on ``base_image``, Node.js components on ``node_base_image``."""
    catalog = load_catalog(component_dirs, base_image or default_base_image(),
                           node_base_image or default_node_base_image())
    chosen = select(catalog, only)
    client = client or docker.from_env(timeout=BUILD_TIMEOUT_SECONDS)
    for base in sorted({info.base_image for info in chosen}):
        ensure_base_image(client, base)
    results = []
    for info in chosen:
        result = build_one(client, info, force)
        if report:
            report(result.line())
        results.append(result)
    return results


def select(catalog: dict[str, ComponentInfo], only: Sequence[str]) -> list[ComponentInfo]:
    unknown = sorted(set(only) - set(catalog))
    if unknown:
        raise CatalogError(f"no component named {', '.join(unknown)} (known: {', '.join(sorted(catalog))})")
    return [catalog[name] for name in sorted(catalog) if not only or name in only]


def build_one(client: docker.DockerClient, info: ComponentInfo, force: bool = False) -> BuildResult:
    started = time.monotonic()
    status = "cached"
    if force or not image_exists(client, info.image):
        with tempfile.TemporaryDirectory(prefix=f"conflux-build-{info.name}-") as context:
            _docker_build(client, info, assemble(info, Path(context), BUILD_TIMEOUT_SECONDS))
        status = "built"
    client.images.get(info.image).tag(info.repository, tag=info.version)
    return BuildResult(info.name, info.image, status, time.monotonic() - started)


def _docker_build(client: docker.DockerClient, info: ComponentInfo, context: Path) -> None:
    buildargs = {
        "BASE_IMAGE": info.base_image,
        "COMPONENT_NAME": info.name,
        "COMPONENT_VERSION": info.version,
        "COMPONENT_DIGEST": info.digest,
    }
    try:
        client.images.build(path=str(context), tag=info.image, buildargs=buildargs, rm=True, forcerm=True,
                            pull=False, network_mode="none")
    except docker.errors.BuildError as exc:
        log = "".join(str(entry.get("stream") or entry.get("error") or "") for entry in exc.build_log)
        raise ImageBuildError(f"building {info.image} from {info.directory} failed: {exc.msg}\n{log[-3000:]}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog.build", description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", help=f"image with python3 to build on (default: {default_base_image()})")
    parser.add_argument("--node-base-image",
                        help=f"image with node to build Node.js components on (default: {default_node_base_image()})")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="build only these components")
    parser.add_argument("--component-dir", action="append", default=[], type=Path, metavar="DIR",
                        help="a user component directory (or a directory of them); repeatable")
    parser.add_argument("--force", action="store_true", help="rebuild even when the digest tag exists")
    args = parser.parse_args(argv)
    try:
        build_all(base_image=args.base_image, node_base_image=args.node_base_image, only=args.only,
                  component_dirs=args.component_dir, force=args.force)
    except (CatalogError, VendoringError, BaseImageError, ImageBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except docker.errors.DockerException as exc:
        print(f"error: Docker is not usable ({exc}); start it with deploy/ensure_docker.sh", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
