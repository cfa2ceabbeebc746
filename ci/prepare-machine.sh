#!/usr/bin/env bash
# Prepare a Debian machine for mwrelease's container tests and upgrade end-to-end tests.
#
#   1. apt packages: docker.io debootstrap php-cli php-sqlite3 php-composer-semver, chromium chromium-driver for the
#      site's browser tests (only the missing ones)
#   2. a Docker daemon: dockerd --bridge=none --iptables=false (no bridge: test containers run
#      with --network none, builds with --network host)
#   3. base images mwrelease/base:SUITE from debootstrap --variant=minbase + docker import
#      (no image registry needed; the host's Debian mirror is used)
#   4. core images per MediaWiki line: python -m mwrelease images build --line ...
#
# Idempotent: every step is skipped when its result is already there, so a second run takes seconds.
#
# Settings (environment):
#   MWRELEASE_SUITES      base image suites to create        (default: "bookworm trixie bullseye")
#                         bullseye is optional: a failure there is a warning, not an error.
#   MWRELEASE_LINES       MediaWiki lines to build images for (default: "1.35 1.39 1.43"; 1.35 is dropped
#                         with a warning when the bullseye base could not be made)
#   MWRELEASE_DEBIAN_MIRROR  Debian mirror URL (default: the first Debian URI in the host's apt sources)
#   MWRELEASE_BASE_IMAGES=registry  no debootstrap: images start from debian:SUITE (needs a registry)
#   MWRELEASE_SKIP_IMAGES=1  stop after the base images
#   MWRELEASE_PYTHON      the Python that has mwrelease's dependencies (default: python3)
#   http_proxy / https_proxy are passed to debootstrap and the image builds when set.
set -euo pipefail

SUITES=${MWRELEASE_SUITES:-"bookworm trixie bullseye"}
OPTIONAL_SUITES=" bullseye "
LINES=${MWRELEASE_LINES:-"1.35 1.39 1.43"}
DOCKERD_LOG=/var/log/mwrelease-dockerd.log
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# /usr/local/bin/docker may be another client (other version, other default context) earlier in
# PATH: always talk to the daemon this script starts, over its socket.
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

log() { printf '[prepare-machine %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Two CI jobs on one machine must not debootstrap or start dockerd twice.
exec 9>"${TMPDIR:-/tmp}/mwrelease-prepare-machine.lock"
flock 9

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run as root (or install sudo): apt-get, dockerd and debootstrap need root"
    SUDO="sudo -E"
fi

# --- 1. packages ---------------------------------------------------------------------------
# debian-archive-keyring and curl: debootstrap checks Debian's signatures (also on a non-Debian host),
# and the mirror probe below uses curl. php-sqlite3: the unit tests' stand-in wiki (tests/fixtures/upgrade/fakemw)
# runs update.php against SQLite through PDO. chromium, chromium-driver and a font: the compatibility site's
# browser tests (tests/integration/test_site_browser.py drive Debian's chromium through Selenium).
want_packages=(docker.io debootstrap php-cli php-sqlite3 php-composer-semver debian-archive-keyring curl
               chromium chromium-driver fonts-dejavu-core)
missing=()
for p in "${want_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "packages present: ${want_packages[*]}"
fi

# --- 2. Docker daemon ----------------------------------------------------------------------
if $DOCKER info >/dev/null 2>&1; then
    log "docker daemon answers at $DOCKER_HOST"
else
    if [ "$DOCKER_HOST" != "unix:///var/run/docker.sock" ]; then
        die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to let this script start a local dockerd"
    fi
    if pgrep -x dockerd >/dev/null; then
        log "dockerd is running but does not answer yet; waiting"
    else
        log "starting dockerd (log: $DOCKERD_LOG)"
        # No bridge and no iptables: containers get --network none (tests) or host (builds).
        # setsid: its own session, so that a Ctrl-C or killpg of whoever ran this script does not take the
        # daemon down with it. 9>&-: the daemon must not inherit the lock, or it holds it as long as it runs.
        $SUDO bash -c "setsid nohup dockerd --bridge=none --iptables=false >>'$DOCKERD_LOG' 2>&1 9>&- &"
    fi
    for _ in $(seq 1 60); do
        $DOCKER info >/dev/null 2>&1 && break
        sleep 1
    done
    $DOCKER info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
    log "docker daemon is up"
fi

# --- 3. base images ------------------------------------------------------------------------
debian_mirror() {
    if [ -n "${MWRELEASE_DEBIAN_MIRROR:-}" ]; then echo "$MWRELEASE_DEBIAN_MIRROR"; return; fi
    local uri
    # deb822 sources first (bookworm's default), then the one-line format.
    uri=$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -h -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '{for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' \
              | grep -E '/debian/?$' | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=$(debian_mirror)

make_base() {
    local suite=$1 tag="mwrelease/base:$1" root start
    if $DOCKER image inspect "$tag" >/dev/null 2>&1; then
        log "$tag exists"
        return 0
    fi
    if ! curl -fsS -m 30 -o /dev/null "$MIRROR/dists/$suite/Release"; then
        log "mirror $MIRROR has no $suite"
        return 1
    fi
    start=$(date +%s)
    root=$(mktemp -d "/var/tmp/mwrelease-$suite.XXXXXX")
    log "debootstrap $suite from $MIRROR into $root"
    if ! $SUDO debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >"$root.log" 2>&1; then
        tail -n 20 "$root.log" >&2
        $SUDO rm -rf "$root"
        return 1
    fi
    # Smaller image, and no stale package lists that would mislead a later apt-get install.
    $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*
    $SUDO tar -C "$root" --numeric-owner -c . | $DOCKER import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV DEBIAN_FRONTEND=noninteractive' \
        --change 'CMD ["/bin/bash"]' \
        --change "LABEL mwrelease=1 mwrelease.kind=base mwrelease.suite=$suite mwrelease.mirror=$MIRROR" \
        - "$tag" >/dev/null
    $SUDO rm -rf "$root" "$root.log"
    log "$tag created in $(( $(date +%s) - start )) s (debootstrap + import)"
}

for suite in $SUITES; do
    if [ "${MWRELEASE_BASE_IMAGES:-debootstrap}" = "registry" ]; then
        log "MWRELEASE_BASE_IMAGES=registry: base images come from debian:SUITE, no debootstrap"
        break
    fi
    if ! make_base "$suite"; then
        if [[ "$OPTIONAL_SUITES" == *" $suite "* ]]; then
            log "warning: no base image for $suite (optional; MediaWiki 1.35 images cannot be built)"
        else
            die "could not create mwrelease/base:$suite"
        fi
    fi
done

# --- 4. core images ------------------------------------------------------------------------
if [ "${MWRELEASE_SKIP_IMAGES:-0}" = "1" ]; then
    log "MWRELEASE_SKIP_IMAGES=1: not building core images"
    exit 0
fi
PY=${MWRELEASE_PYTHON:-python3}
if ! "$PY" -c 'import click, docker, yaml' 2>/dev/null; then
    die "$PY lacks mwrelease's dependencies (click, docker, pyyaml...): run \`$PY -m pip install -e $REPO_ROOT\` or set MWRELEASE_PYTHON"
fi
if [[ " $LINES " == *" 1.35 "* ]] && [ "${MWRELEASE_BASE_IMAGES:-debootstrap}" != "registry" ] \
        && ! $DOCKER image inspect mwrelease/base:bullseye >/dev/null 2>&1; then
    log "warning: no mwrelease/base:bullseye: not building MediaWiki 1.35 (the 1.35 -> 1.43 chain test will skip)"
    LINES=$(echo " $LINES " | sed 's/ 1\.35 / /')
fi
line_args=()
for l in $LINES; do line_args+=(--line "$l"); done
log "building core images: $LINES"
cd "$REPO_ROOT"
PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m mwrelease images build "${line_args[@]}" --with-db
log "done"
