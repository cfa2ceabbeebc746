# Sourced by ci/run-tests.sh and ci/main-job.sh: a virtualenv in .venv with mwrelease installed (editable).
# Debian's system Python refuses `pip install` outside a virtualenv (PEP 668), and python3-venv may be missing.
VENV=${VENV:-.venv}
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import mwrelease, docker, tuf, securesystemslib, cyclonedx, jinja2, urllib3' >/dev/null 2>&1 || "$VENV/bin/python" -m pip install -q -e .
