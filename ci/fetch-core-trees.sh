#!/usr/bin/env bash
# Unpack real MediaWiki core trees from Debian's `mediawiki` package (no container needed):
#   bookworm -> 1.39.x, trixie -> 1.43.x (bullseye -> 1.35.x when the mirror still has it).
# The trees are catalog sources (`--catalog core:DIR`) for the resolver, the matrix and the tests.
# Usage: ci/fetch-core-trees.sh [DEST]   (default: .cache/cores; idempotent, fast when done)
set -euo pipefail
dest=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/cores"}
mkdir -p "$dest"
# Reuse the mirror the host's apt is configured with.
mirror=$(grep -rhoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=$(grep -rhoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

for suite in bookworm trixie; do
  out="$dest/$suite"
  if [ -f "$out/.complete" ]; then echo "core tree $suite: present ($(cat "$out/.complete"))"; continue; fi
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$work/sources.list"
  opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -qq)
  apt-get "${opts[@]}" update
  (cd "$work" && apt-get "${opts[@]}" download mediawiki mediawiki-classes)
  rm -rf "$out" && mkdir -p "$out"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$out"; done
  version=$(grep -oP "MW_VERSION', '\K[^']+" "$out/usr/share/mediawiki/includes/Defines.php")
  echo "$version" > "$out/.complete"
  ln -sfn "$suite/usr/share/mediawiki" "$dest/${version%.*}"
  rm -rf "$work"
  echo "core tree $suite: MediaWiki $version in $out/usr/share/mediawiki"
done
