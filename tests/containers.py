"""Step containers as the tests see them: listed in one call (see `list_containers`), never
inspected one by one, since the pool under test removes containers at any moment."""

import docker
import docker.errors

from steps.docker_housekeeping import ContainerSummary, list_containers


def containers_with(*labels: str, running: bool = False) -> list[ContainerSummary]:
    """The containers carrying every label (by default in any state)."""
    return list_containers(docker.from_env(), labels=list(labels), status="running" if running else None)


def kill(container: ContainerSummary) -> None:
    docker.from_env().api.kill(container.id)


def gone_or_exited(container: ContainerSummary) -> bool:
    try:
        return docker.from_env().api.inspect_container(container.id)["State"]["Status"] == "exited"
    except docker.errors.NotFound:
        return True
