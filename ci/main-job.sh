#!/usr/bin/env bash
# The main job on the embedded defaults: local Docker engine, SQLite, a local release channel.
#   resolve the tarball bundle of the newest LTS -> declared matrix -> container tests on real MediaWiki
#   -> seal verdict -> release artifacts -> publish to a local channel.
# Everything lands in out/ (or $1). Idempotent; prepares the machine first.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
mkdir -p "$out"
source ci/venv.sh   # the tool in .venv, as an admin or release manager would install it
mw=$VENV/bin/mwrelease
bash ci/fetch-core-trees.sh
MWRELEASE_PYTHON="$VENV/bin/python" bash ci/prepare-machine.sh
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

core=$(cat .cache/cores/trixie/.complete)   # the 1.43.x Debian ships
snapshots=../shared/data/extension-metadata
set -x
$mw bundle validate bundles/*.yaml
$mw resolve bundles/tarball-1.43.yaml --core "$core" --catalog core:.cache/cores/1.43 -o "$out/tarball-1.43.lock"
$mw matrix --catalog "$snapshots" --catalog core:.cache/cores/1.39 --catalog core:.cache/cores/1.43 \
    --core "$(cat .cache/cores/bookworm/.complete),$core" --format html -o "$out/matrix-declared.html"
# Exit code 7 (a required check failed) still leaves results, JUnit and a seal verdict to look at.
$mw test "$out/tarball-1.43.lock" --db sqlite --jobs 2 --results "$out/results.json" --junit "$out/junit.xml" || [ $? -eq 7 ]
$mw matrix --catalog core:.cache/cores/1.43 --core "$core" --results "$out/results.json" --format html -o "$out/matrix-tested.html"
$mw seal "$out/results.json" --lock "$out/tarball-1.43.lock" -o "$out/tarball-1.43.seal.json" --html "$out/seal.html" --badges "$out/badges"
$mw release build "$out/tarball-1.43.lock" --core-tree .cache/cores/1.43 -o "$out/release"
$mw channel publish "$(ls "$out"/release/mediawiki-*.tar.gz | head -1)" --channel "$out/channel"
set +x
echo "main job done: lock, matrix, results (JSON + JUnit), seal, release artifacts and channel in $out/"
