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
    """Remove exited step containers (a worker killed with -9 leaves its last ones behind), and
    warm or standby containers (running, or created and never started) whose worker on this host
    is gone. Other ones are left alone: another worker on this engine may own them."""
    removed = 0
    exited = list_containers(client, labels=[f"{MANAGED_LABEL}=true"], status="exited")
    owned = list_containers(client, labels=[f"{MANAGED_LABEL}=true", OWNER_LABEL])
    orphans = [c for c in owned if c.state != "exited" and _owner_gone(c.labels.get(OWNER_LABEL, ""))]
    for container in [*exited, *orphans]:
        try:
            client.api.remove_container(container.id, force=True)
            removed += 1
        except docker.errors.APIError:
            pass  # removed meanwhile, or being removed
    return removed


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
