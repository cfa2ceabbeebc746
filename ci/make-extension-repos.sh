#!/usr/bin/env bash
# Make local git repositories of real extensions from the core trees (ci/fetch-core-trees.sh):
# one repository per extension/skin bundled with 1.39 or 1.43, with a REL1_39 and/or REL1_43 branch holding
# the real tree of that release. They stand in for Wikimedia's repositories where there is no network
# (catalog source: git:file://DEST/NAME).
# Usage: ci/make-extension-repos.sh [DEST]   (default .cache/repos; idempotent)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/.cache/repos"}
cores="$root/.cache/cores"
[ -d "$cores/1.39" ] && [ -d "$cores/1.43" ] || bash "$root/ci/fetch-core-trees.sh"
mkdir -p "$dest"
[ -f "$dest/.complete" ] && { echo "extension repositories present in $dest"; exit 0; }
export GIT_AUTHOR_NAME=mwrelease GIT_AUTHOR_EMAIL=mwrelease@localhost GIT_COMMITTER_NAME=mwrelease GIT_COMMITTER_EMAIL=mwrelease@localhost
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
for line in 1.39 1.43; do
  branch="REL${line/./_}"
  for kind_dir in extensions-core skins; do
    for src in "$cores/$line/$kind_dir"/*/; do
      name=$(basename "$src")
      [ -f "$src/extension.json" ] || [ -f "$src/skin.json" ] || continue
      repo="$dest/$name"
      [ -d "$repo/.git" ] || git init -q -b master "$repo"
      # Each REL branch is its own root commit holding exactly that release's tree.
      git -C "$repo" checkout -q --orphan "$branch"
      git -C "$repo" rm -rfq . 2>/dev/null || true
      cp -a "$src"/. "$repo"/
      git -C "$repo" add -A
      git -C "$repo" commit -qm "$name as shipped with MediaWiki $line" --allow-empty
      git -C "$repo" branch -f master "$branch"
    done
  done
done
date -u +%FT%TZ > "$dest/.complete"
echo "extension repositories in $dest: $(ls "$dest" | wc -l)"
