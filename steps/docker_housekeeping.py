"""Housekeeping of step containers on the Docker engine."""

import os
import socket
from dataclasses import dataclass

import docker
import docker.errors

from steps.docker_channel import MANAGED_LABEL

OWNER_LABEL = "conflux.owner"  # "<host>:<pid>" of the worker whose warm pool holds the container


@dataclass(frozen=True)
class ContainerSummary:
    id: str
    state: str  # "created", "running", "exited", ...
    labels: dict[str, str]


def list_containers(client: docker.DockerClient, *, labels: list[str],
                    status: str | None = None) -> list[ContainerSummary]:
    """The containers carrying every one of `labels`, in one listing call. The SDK's
    `containers.list()` inspects each container after listing it and raises NotFound when one is
    removed in between, which a pool or another worker may do at any moment."""
    filters: dict[str, object] = {"label": labels}
    if status is not None:
        filters["status"] = status
    return [ContainerSummary(id=found["Id"], state=found["State"], labels=found.get("Labels") or {})
            for found in client.api.containers(all=True, filters=filters)]


def worker_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_leftover_containers(client: docker.DockerClient) -> int:
    """Remove step containers whose worker on this host is gone (a worker killed with -9 leaves its
    last ones behind: exited, running, or created and never started), and exited ones that name no
    worker. A live worker's containers are left alone, exited ones too: it may still be reading
    one's exit cause (out of memory?) before it removes it itself."""
    removed = 0
    managed = list_containers(client, labels=[f"{MANAGED_LABEL}=true"])
    for container in [c for c in managed if _left_over(c)]:
        try:
            client.api.remove_container(container.id, force=True)
            removed += 1
        except docker.errors.APIError:
            pass  # removed meanwhile, or being removed
    return removed


def _left_over(container: ContainerSummary) -> bool:
    owner = container.labels.get(OWNER_LABEL)
    return container.state == "exited" if owner is None else _owner_gone(owner)


def _owner_gone(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # a pid reused by this very worker: those containers are not ours
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
