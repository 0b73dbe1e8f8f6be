"""Shared fixtures: a real Temporal dev server, a real Docker engine, the built component images.

In CI (CI=true) a missing Docker engine fails the run; on a developer machine without one the
Docker tests are skipped with the reason. Every test that needs Docker is marked ``docker`` here, from
the fixtures it uses, so ``python -m pytest -m "not docker"`` runs the rest without an engine.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.temporal_server import dev_server
from tests.loopback import LoopbackServer, Sink

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The API's bearer tokens are tested in tests/test_api_auth.py (and the local stack's in test_stack);
# elsewhere the tests talk to the API, or start API processes, without them.
os.environ.setdefault("CONFLUX_API_AUTH", "false")


DOCKER_FIXTURES = frozenset({"docker_engine", "component_images", "probe_image"})


def needs_docker(item: pytest.Item) -> bool:
    """A test that uses a Docker fixture (itself or through another fixture), or the Docker case of
    the parametrised ``runner`` fixture."""
    if DOCKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("runner") == "docker"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_docker(item):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless `temporal server start-dev` with Conflux's search attributes, stopped by pid."""
    with dev_server(tmp_path_factory.mktemp("temporal") / "server.log") as address:
        yield address


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker client; a failure in CI when no engine answers, a skip elsewhere."""
    from steps.docker_channel import docker_client

    client = docker_client()
    if client is None:
        message = "no Docker engine answers (run deploy/ensure_docker.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def node_tools() -> None:
    """node and npm, for Node.js components (their runtime, the process runner, the image build);
    a failure in CI when they are missing, a skip elsewhere."""
    import shutil

    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "Node.js components need node and npm on this host (deploy/node_tools.sh installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def component_images(docker_engine) -> dict:
    """Every built-in component image, built if missing; name -> ComponentInfo."""
    from catalog.build import build_all
    from catalog.components import load_catalog

    build_all()
    return load_catalog()


PROBE_DIR = REPO_ROOT / "tests" / "components" / "probe"


@pytest.fixture(scope="session")
def probe_image(docker_engine) -> str:
    """The test component with one action per wire behaviour (tests/components/probe)."""
    from catalog.build import build_all

    [result] = build_all(component_dirs=[PROBE_DIR], only=["probe"], report=None)
    return result.image


@pytest.fixture(scope="session")
def catalog_with_probe() -> dict:
    from catalog.components import load_catalog

    return load_catalog([PROBE_DIR])


@pytest.fixture(params=["process", "docker"])
def runner(request: pytest.FixtureRequest):
    """Each runner test runs against both runners; the Docker one with the images built."""
    from steps.runner import make_runner

    if request.param == "docker":
        request.getfixturevalue("component_images")
        request.getfixturevalue("probe_image")
    return make_runner(request.param)


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A dev server of the module's own on the file store, as the embedded default runs it, and its
    database file: for tests that look into what Temporal keeps."""
    folder = tmp_path_factory.mktemp("temporal-file")
    with dev_server(folder / "server.log", db_file=folder / "temporal.db") as address:
        yield address, folder / "temporal.db"


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    """A loopback HTTP target at ``<url>/sink`` keeping what flows delivered (tests/loopback.py)."""
    received = Sink()
    with LoopbackServer({"/sink": received.route}) as server:
        received.url, received.server = server.url, server
        yield received
