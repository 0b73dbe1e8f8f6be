#!/usr/bin/env bash
# The README's second command (and what CI runs): install (the Python env; node and npm for the
# Node.js components), run the static checks (ruff, mypy), make sure Docker answers, build the base
# images and the component images, run every test. Extra arguments go to pytest. A Docker engine
# this script had to start is stopped again at the end, by its pid.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source deploy/python_env.sh
bash deploy/node_tools.sh

# Static checks first: either one failing fails the run (configured in pyproject.toml).
echo "test.sh: ruff check ." >&2
ruff check .
echo "test.sh: mypy (the platform code and its tests)" >&2
mypy

started_docker=""
stop_started_docker() {
    if [[ -n "$started_docker" ]] && kill -0 "$started_docker" 2>/dev/null; then
        echo "test.sh: stopping the dockerd it started (pid $started_docker)" >&2
        kill "$started_docker" && timeout 30 tail --pid="$started_docker" -f /dev/null || kill -9 "$started_docker" || true
    fi
}
trap stop_started_docker EXIT

docker info >/dev/null 2>&1 || docker_was_down=1
if bash deploy/ensure_docker.sh; then
    [[ -n "${docker_was_down:-}" ]] && started_docker="$(cat var/dockerd.pid 2>/dev/null || true)"
    # The Node.js base up front (the built-ins are Python: catalog.build makes only conflux/base), so
    # no test fixture has to make it first, against its timeout.
    bash deploy/base_image.sh node
    python -m catalog.build
elif [[ "${CI:-}" == "true" ]]; then
    echo "test.sh: no Docker engine in CI: failing (Docker tests are never skipped in CI)" >&2
    exit 1
else
    echo "test.sh: no Docker engine; the Docker tests will be skipped" >&2
fi
python -m pytest "$@"
