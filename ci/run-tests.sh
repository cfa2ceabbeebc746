#!/usr/bin/env bash
# The test command (README): prepare the machine, then run the test suite and the type check with tox.
# Works on a fresh Debian machine as root: a virtualenv (.venv) gets mwrelease and tox from PyPI; Debian gives
# the Docker engine, debootstrap and php-composer-semver; dockerd is started and the base and core images built.
# Each phase prints its elapsed time at the end (CI's time budget is watched phase by phase).
#   ci/run-tests.sh [pytest args, e.g. tests/unit -k resolver]   (default: both suites on 2 xdist workers)
set -euo pipefail
cd "$(dirname "$0")/.."
phases=()
phase() {  # phase NAME CMD...: run CMD, remember how long it took
    local name=$1 start=$SECONDS; shift
    echo "[run-tests $(date -u +%H:%M:%S)] phase: $name"
    "$@"
    phases+=("$(printf '%-16s %5d s' "$name" $((SECONDS - start)))")
}
report() { printf '[run-tests] phase times:\n'; printf '  %s\n' "${phases[@]}"; }
trap report EXIT
source ci/venv.sh
phase tox-install "$VENV/bin/python" -m pip install -q "tox>=4"
phase core-trees bash ci/fetch-core-trees.sh
phase prepare-machine env MWRELEASE_PYTHON="$VENV/bin/python" bash ci/prepare-machine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
# Two pytest-xdist workers, a test file each at a time (module fixtures such as an admin server stay in one
# worker); tests/conftest.py starts the longest files first. MWRELEASE_TEST_WORKERS=0 runs in one process.
[ $# -gt 0 ] || set -- -n "${MWRELEASE_TEST_WORKERS:-2}" --dist loadfile tests/unit tests/integration
phase tests "$VENV/bin/python" -m tox -e py,type -- --durations=15 "$@"
