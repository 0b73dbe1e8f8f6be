"""Housekeeping of step containers on the Docker engine."""

import os
import socket

import docker
import docker.errors

from steps.docker_channel import MANAGED_LABEL

OWNER_LABEL = "conflux.owner"  # "<host>:<pid>" of the worker whose warm pool holds the container


def worker_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_leftover_containers(client: docker.DockerClient) -> int:
    """Remove exited step containers (a worker killed with -9 leaves its last ones behind), and
    warm or standby containers (running, or created and never started) whose worker on this host
    is gone. Other ones are left alone: another worker on this engine may own them."""
    removed = 0
    exited = client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true", "status": "exited"})
    owned = client.containers.list(all=True, filters={"label": [f"{MANAGED_LABEL}=true", OWNER_LABEL]})
    orphans = [c for c in owned if c.status != "exited" and _owner_gone(c.labels.get(OWNER_LABEL, ""))]
    for container in [*exited, *orphans]:
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.APIError:
            pass
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
