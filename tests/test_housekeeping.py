"""A worker's start-up housekeeping removes what dead workers on this host left behind, and only
that: a live worker's containers, exited ones included (it may be reading one's exit cause), stay."""

import socket
import subprocess
import uuid
from collections.abc import Iterator

import docker
import pytest

from steps.docker_channel import MANAGED_LABEL
from steps.docker_housekeeping import OWNER_LABEL, list_containers, remove_leftover_containers

HOST = socket.gethostname()


def gone_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def made(docker_engine: docker.DockerClient, component_images: dict) -> Iterator[dict[str, str]]:
    """Step-like containers under a test label, by name: exited or running, a live or a gone owner."""
    image = component_images["transform"].image
    test = f"conflux.test={uuid.uuid4().hex[:8]}"
    owners = {"live-exited": f"{HOST}:1", "gone-exited": f"{HOST}:{gone_pid()}", "no-owner-exited": None,
              "gone-running": f"{HOST}:{gone_pid()}", "live-running": f"{HOST}:1",
              "other-host-exited": f"elsewhere:{gone_pid()}"}
    ids: dict[str, str] = {}
    for name, owner in owners.items():
        labels = {MANAGED_LABEL: "true", test.split("=")[0]: test.split("=")[1]}
        if owner is not None:
            labels[OWNER_LABEL] = owner
        command = ["sleep", "300"] if name.endswith("running") else ["true"]
        container = docker_engine.containers.run(image, entrypoint=command, labels=labels, detach=True,
                                                 network_mode="none")
        if not name.endswith("running"):
            container.wait(timeout=60)
        ids[name] = str(container.id)
    yield ids
    for summary in list_containers(docker_engine, labels=[test]):
        docker_engine.api.remove_container(summary.id, force=True)


def test_only_what_dead_workers_left_is_removed(docker_engine: docker.DockerClient, made: dict[str, str]) -> None:
    remove_leftover_containers(docker_engine)
    left = {container.id for container in list_containers(docker_engine, labels=[f"{MANAGED_LABEL}=true"])}
    kept = {name for name, container_id in made.items() if container_id in left}
    assert kept == {"live-exited", "live-running", "other-host-exited"}
