#!/usr/bin/env bash
# The test command (README): prepare the machine, then run the test suite and the type check with tox.
# Works on a fresh Debian machine as root: a virtualenv (.venv) gets mwrelease and tox from PyPI; Debian gives
# the Docker engine, debootstrap and php-composer-semver; dockerd is started and the base and core images built.
#   ci/run-tests.sh [pytest args, e.g. tests/unit -k resolver]
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/venv.sh
"$VENV/bin/python" -m pip install -q "tox>=4"
bash ci/fetch-core-trees.sh
MWRELEASE_PYTHON="$VENV/bin/python" bash ci/prepare-machine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
[ $# -gt 0 ] || set -- tests/unit tests/integration
"$VENV/bin/python" -m tox -e py,type -- "$@"
