#!/usr/bin/env bash
# Builds a local base image of the component images: a minimal Debian bookworm root filesystem
# made with debootstrap from Debian's own packages, so no container registry is needed.
# Idempotent: does nothing when the image exists.
#
#   deploy/base_image.sh            conflux/base:bookworm, with python3 (Python components)
#   deploy/base_image.sh node       conflux/node-base:bookworm, with Debian's nodejs (Node.js components)
#   CONFLUX_ROOTFS_DIR=/tmp/rootfs  reuse an existing `debootstrap --variant=minbase
#                                   --include=PACKAGE bookworm DIR` instead of making one
#
# The root filesystem is cached as var/base-rootfs-bookworm.tar.gz (var/node-base-rootfs-bookworm.tar.gz;
# var/ is git-ignored), so re-importing after `docker image rm` takes seconds, not a minute.
set -euo pipefail

SUITE="bookworm"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-python}" in
    python) IMAGE="conflux/base:$SUITE"; PACKAGE="python3"; PROGRAM="usr/bin/python3"; CMD='["python3"]'
            CACHE="$ROOT/var/base-rootfs-$SUITE.tar.gz" ;;
    node)   IMAGE="conflux/node-base:$SUITE"; PACKAGE="nodejs"; PROGRAM="usr/bin/node"; CMD='["node"]'
            CACHE="$ROOT/var/node-base-rootfs-$SUITE.tar.gz" ;;
    *)      echo "usage: $0 [python|node]" >&2; exit 2 ;;
esac

SCRATCH=""

log() { echo "base_image.sh: $*" >&2; }
cleanup() { [[ -z "$SCRATCH" ]] || rm -rf "$SCRATCH"; rm -f "$CACHE.partial"; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE exists"
    exit 0
fi
mkdir -p "$ROOT/var"
trap cleanup EXIT

make_rootfs_tarball() {
    local rootfs="${CONFLUX_ROOTFS_DIR:-}"
    if [[ -n "$rootfs" && -x "$rootfs/$PROGRAM" ]]; then
        log "reusing the root filesystem in $rootfs"
    else
        if ! command -v debootstrap >/dev/null 2>&1; then
            log "installing debootstrap"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        fi
        SCRATCH="$(mktemp -d "$ROOT/var/rootfs.XXXXXX")"
        rootfs="$SCRATCH"
        log "debootstrap $SUITE into $rootfs (about a minute)"
        debootstrap --variant=minbase --include="$PACKAGE" "$SUITE" "$rootfs" >&2
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    fi
    if [[ ! -x "$rootfs/$PROGRAM" ]]; then
        log "error: $rootfs has no $PROGRAM; delete it and run again"
        exit 1
    fi
    tar --numeric-owner -C "$rootfs" -czf "$CACHE.partial" .
    mv "$CACHE.partial" "$CACHE"
}

if [[ ! -s "$CACHE" ]]; then
    make_rootfs_tarball
else
    log "using the cached root filesystem $CACHE"
fi

log "importing $CACHE as $IMAGE"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "CMD $CMD" \
    - "$IMAGE" < "$CACHE" >/dev/null
log "built $IMAGE"
