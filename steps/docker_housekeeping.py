"""Housekeeping of step containers on the Docker engine."""

import docker
import docker.errors

from steps.docker_channel import MANAGED_LABEL


def remove_leftover_containers(client: docker.DockerClient) -> int:
    """Remove exited step containers (a worker killed with -9 leaves its last ones behind).
    Running ones are left alone: another worker on this engine may own them."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true", "status": "exited"}):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.APIError:
            pass
    return removed
