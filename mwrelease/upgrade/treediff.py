"""Which paths of an installed wiki the admin may change: the filters before comparing it with its release.

Shared by `inspect` (the local changes `upgrade` refuses to overwrite) and `verify`; the comparison itself
is `mwrelease.release.treediff.diff_tree`. What belongs to the installation and not to the release is not
compared: LocalSettings.php, images/, cache/, the state directory, and extensions or skins the release does
not ship (the admin's own).
"""

from __future__ import annotations

from pathlib import Path

from mwrelease.mwtree import ADMIN_ENTRIES
from mwrelease.release.manifest import Manifest
from mwrelease.release.treediff import TreeDiff, diff_tree

# Written by `upgrade` while the wiki is read-only; never part of a release.
_TRANSIENT = frozenset({"mwrelease-readonly.php"})


def own_component_dirs(root: Path, manifest: Manifest) -> list[str]:
    """Extension and skin directories in the tree that the release does not ship: the admin's own."""
    shipped = {f"{'skins' if c.kind == 'skin' else 'extensions'}/{c.name}" for c in manifest.components}
    shipped_paths = {f.path.split("/", 2)[0] + "/" + f.path.split("/", 2)[1]
                     for f in manifest.files if f.path.startswith(("extensions/", "skins/")) and f.path.count("/") >= 2}
    out: list[str] = []
    for sub in ("extensions", "skins"):
        d = root / sub
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            rel = f"{sub}/{p.name}"
            if (p.is_dir() or p.is_symlink()) and rel not in shipped and rel not in shipped_paths:
                out.append(rel)
    return out


def ignored_paths(root: Path, manifest: Manifest) -> frozenset[str]:
    """What is not compared: the installation's own entries and the admin's own extensions and skins."""
    return frozenset(ADMIN_ENTRIES | _TRANSIENT | set(own_component_dirs(root, manifest)))


def wiki_diff(root: Path, manifest: Manifest) -> TreeDiff:
    """How an installed wiki differs from its release, leaving out what the admin may change."""
    return diff_tree(root, manifest.files, ignore=ignored_paths(root, manifest))
