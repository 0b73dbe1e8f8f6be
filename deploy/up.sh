#!/usr/bin/env bash
# The README's first command: install what is needed, then run the local stack with the example
# flows (Temporal dev server with its UI, worker, API, demo endpoints). Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source deploy/python_env.sh
if ! bash deploy/ensure_docker.sh; then
    echo "up.sh: no Docker engine; steps will run as local processes" >&2
fi
exec python -m deploy.stack "$@"
