#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io if dockerd is missing, starts
# `dockerd --bridge=none` in the background (pid in var/dockerd.pid, log in var/dockerd.log) and
# waits up to 60 s for it. Idempotent: never starts a second daemon.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIDFILE="$ROOT/var/dockerd.pid"
LOGFILE="$ROOT/var/dockerd.log"
WAIT_SECONDS=60

log() { echo "ensure_docker.sh: $*" >&2; }

docker_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

daemon_running() {
    # Ours (var/dockerd.pid) or anyone's (dockerd's own /var/run/docker.pid).
    local pidfile pid
    for pidfile in "$PIDFILE" /var/run/docker.pid; do
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            return 0
        fi
    done
    return 1
}

if docker_answers; then
    exit 0
fi
mkdir -p "$ROOT/var"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    log "installing docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if daemon_running; then
    log "dockerd is already running; waiting for it to answer"
else
    log "starting dockerd --bridge=none (log: $LOGFILE)"
    nohup dockerd --bridge=none >>"$LOGFILE" 2>&1 &
    echo $! >"$PIDFILE"
fi

for _ in $(seq "$WAIT_SECONDS"); do
    if docker_answers; then
        log "docker is up"
        exit 0
    fi
    sleep 1
done
log "error: docker did not answer within ${WAIT_SECONDS}s; see the last lines of $LOGFILE:"
tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
exit 1
