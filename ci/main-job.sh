#!/usr/bin/env bash
# The main job on the embedded defaults: local Docker engine, SQLite, a local release channel.
#   resolve the tarball bundle of the newest LTS -> declared matrix -> container tests on real MediaWiki
#   -> signed seal verdict (a FAILED seal stops the job: exit 7) -> release artifacts -> a SIG-signed channel
#   (throwaway keys: 1 chair, 3 members, an online key) -> propose -> 2 of 3 members approve -> publish.
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
# Throwaway SIG keys (a real SIG keeps each private key on its owner's machine, the chairs' offline).
set +x
export MWRELEASE_KEY_PASSPHRASE=${MWRELEASE_KEY_PASSPHRASE:-main-job-throwaway}
keys="$out/keys"
rm -rf "$keys" "$out/channel" "$out/proposal"
for k in chair alice bob carol online ci; do $mw key generate "$k" --out-dir "$keys" >/dev/null; done
set -x
# The seal is a gate: exit 7 on a FAILED verdict stops the job here (results, seal and HTML are written first).
$mw seal "$out/results.json" --lock "$out/tarball-1.43.lock" -o "$out/tarball-1.43.seal.json" --html "$out/seal.html" \
    --badges "$out/badges" --sign "$keys/ci.key"
$mw seal-verify "$out/tarball-1.43.seal.dsse.json" --key "$keys/ci.pub" --lock "$out/tarball-1.43.lock"
$mw release build "$out/tarball-1.43.lock" --core-tree .cache/cores/1.43 --out-dir "$out/release"
# Sealed again now that the tarball exists: the signed statement names its sha256 beside the lock's, and
# `release propose` accepts only the tarball the seal names.
$mw seal "$out/results.json" --lock "$out/tarball-1.43.lock" -o "$out/tarball-1.43.seal.json" --sign "$keys/ci.key" \
    --artifact "$out/release/mediawiki-$core.tar.gz"
$mw sig init --channel "$out/channel" --root-key "$keys/chair.pub" --member "$keys/alice.pub" --member "$keys/bob.pub" \
    --member "$keys/carol.pub" --threshold 2 --online-key "$keys/online.pub" --sign-root "$keys/chair.key"
$mw release propose "$out/release" --version "$core" --channel "$out/channel" --lock "$out/tarball-1.43.lock" \
    --seal "$out/tarball-1.43.seal.dsse.json" --seal-key "$keys/ci.pub" --out-dir "$out/proposal"
$mw release review "$out/proposal"
verdict=$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["predicate"]["verdict"])' \
    "$out/tarball-1.43.seal.json")
override=()
# This job tests SQLite only; the lock also lists MariaDB and PostgreSQL, so the seal is at best provisional.
[ "$verdict" = sealed ] || override=(--override-seal "main job: only the SQLite cells ran (seal $verdict)")
for m in alice bob; do $mw release approve "$out/proposal" --key "$keys/$m.key" "${override[@]}"; done
$mw channel publish "$out/proposal" --channel "$out/channel" --online-key "$keys/online.key"
# The admin's view: `channel show` lists only what python-tuf verified against a trusted root (an anchor of
# this job's own, not the user's).
export MWRELEASE_TRUST_DIR="$out/trust"
rm -rf "$MWRELEASE_TRUST_DIR"
$mw channel trust "$out/channel" --root "$out/channel/metadata/1.root.json"
$mw channel show "$out/channel"
$mw sig status --channel "$out/channel"
set +x
echo "main job done: lock, matrix, results (JSON + JUnit), signed seal, release artifacts and a SIG-signed channel in $out/"
