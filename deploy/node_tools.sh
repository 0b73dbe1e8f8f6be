#!/usr/bin/env bash
# Makes sure node and npm are on this host, installing Debian's `nodejs` / `npm` when one is
# missing: Node.js components need them here (npm installs a component's dependencies into its
# image's build context, the process runner runs them on node, the tests run both). Idempotent.
set -euo pipefail

log() { echo "node_tools.sh: $*" >&2; }

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
log "installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
for program in node npm; do
    if ! command -v "$program" >/dev/null 2>&1; then
        log "error: installing ${missing[*]} gave no $program; install Node.js (18 or later) with npm"
        exit 1
    fi
done
log "node $(node --version), npm $(npm --version)"
