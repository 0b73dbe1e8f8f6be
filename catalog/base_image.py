"""Makes sure the base image of the component images exists before building on it.

The default bases, ``conflux/base:bookworm`` (python3) and ``conflux/node-base:bookworm`` (Debian's
nodejs, for Node.js components), are made locally by deploy/base_image.sh (no registry needed); any
other base (``python:3.11-slim``, ``node:20-slim``) is pulled from a registry.
"""

from __future__ import annotations

import subprocess

import docker
import docker.errors

from catalog.components import LOCAL_BASE_IMAGE, LOCAL_NODE_BASE_IMAGE, REPO_ROOT

BASE_IMAGE_SCRIPT = REPO_ROOT / "deploy" / "base_image.sh"
STDERR_FD = 2
LOCAL_BASES = {LOCAL_BASE_IMAGE: "python", LOCAL_NODE_BASE_IMAGE: "node"}  # image -> base_image.sh's argument


class BaseImageError(Exception):
    """The base image is missing and could not be made or pulled."""


def ensure_base_image(client: docker.DockerClient, base_image: str) -> None:
    if image_exists(client, base_image):
        return
    if base_image in LOCAL_BASES:
        # Its progress (debootstrap takes a minute or two) goes to stderr; stdout stays the build report.
        result = subprocess.run(["bash", str(BASE_IMAGE_SCRIPT), LOCAL_BASES[base_image]],
                                stdout=STDERR_FD, stderr=STDERR_FD)
        if result.returncode != 0 or not image_exists(client, base_image):
            raise BaseImageError(
                f"{BASE_IMAGE_SCRIPT} did not make {base_image} (exit {result.returncode}); its output is above"
            )
        return
    try:
        client.images.pull(base_image)
    except docker.errors.APIError as exc:
        raise BaseImageError(
            f"base image {base_image} is not present and could not be pulled ({exc.explanation or exc}); "
            f"pull or build it first, or use the local bases: --base-image {LOCAL_BASE_IMAGE}, "
            f"--node-base-image {LOCAL_NODE_BASE_IMAGE}"
        ) from None


def image_exists(client: docker.DockerClient, image: str) -> bool:
    """Whether the engine has ``image`` locally (no pull)."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True
