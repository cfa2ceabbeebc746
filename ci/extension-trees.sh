#!/bin/sh
# The real extension trees of ../shared/data/extension-trees as catalog sources:
#   .cache/extension-trees/REL1_xx/<Name>   (tree:.cache/extension-trees/REL1_43)
#   .cache/extension-git/<Name>.git         (git:.cache/extension-git/Echo.git, a REL1_xx branch per archive)
set -eu
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/extension-trees}
[ -f "$SRC/index.json" ] || { echo "no $SRC/index.json: nothing to do" >&2; exit 0; }
"${PYTHON:-.venv/bin/python}" -m mwrelease.ci.trees "$SRC" .cache
