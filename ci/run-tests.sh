#!/usr/bin/env bash
# The test command (README): prepare the machine, then run the test suite and the type check with tox.
# Works on a fresh Debian machine as root: installs what it needs (tox from PyPI; Docker engine,
# debootstrap, php-composer-semver from Debian), starts dockerd, builds base and core images.
#   ci/run-tests.sh [extra pytest args, e.g. -k resolver]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip --version >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q python3-pip python3-venv; }
python3 -m tox --version >/dev/null 2>&1 || python3 -m pip install -q "tox>=4"
bash ci/fetch-core-trees.sh
bash ci/prepare-machine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
[ $# -gt 0 ] || set -- tests/unit tests/integration
python3 -m tox -e py,type -- "$@"
