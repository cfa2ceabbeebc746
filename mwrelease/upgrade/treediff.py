"""How an installed tree differs from its release manifest, file by file (changed, missing, added).

Shared by `inspect` (the local changes `upgrade` refuses to overwrite) and `verify`. What belongs to the
installation and not to the release is not compared: LocalSettings.php, images/, cache/, the state directory,
and extensions or skins the release does not ship (the admin's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.mwtree import ADMIN_ENTRIES
from mwrelease.release.manifest import Manifest, scan_tree

# Written by `upgrade` while the wiki is read-only; never part of a release.
_TRANSIENT = frozenset({"mwrelease-readonly.php"})


@dataclass(frozen=True, kw_only=True)
class TreeDiff:
    """How a tree differs from a release manifest; paths relative to the tree, sorted."""

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.added)

    def lines(self) -> list[str]:
        """One line per file, the form `upgrade`'s plan and `status` show too."""
        return ([f"changed: {p}" for p in self.changed] + [f"missing: {p}" for p in self.missing]
                + [f"added: {p}" for p in self.added])

    def to_json(self) -> dict[str, Any]:
        return {"changed": list(self.changed), "missing": list(self.missing), "added": list(self.added)}


def diff_tree(root: Path, manifest: Manifest, *, ignore: frozenset[str] = frozenset()) -> TreeDiff:
    """Compare ``root`` with ``manifest`` file by file (content, symlink target, mode). ``ignore`` names paths
    (top-level entries or directories such as ``extensions/MyExt``) that are not compared."""
    expected = manifest.file_map()
    changed: list[str] = []
    added: list[str] = []
    seen: set[str] = set()
    for entry in scan_tree(root):
        if _ignored(entry.path, ignore):
            continue
        seen.add(entry.path)
        want = expected.get(entry.path)
        if want is None:
            added.append(entry.path)
        elif want.link != entry.link or want.sha256 != entry.sha256 or (want.link is None and want.mode != entry.mode):
            changed.append(entry.path)
    missing = [p for p in expected if p not in seen and not _ignored(p, ignore)]
    return TreeDiff(changed=tuple(sorted(changed)), missing=tuple(sorted(missing)), added=tuple(sorted(added)))


def _ignored(path: str, ignore: frozenset[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in ignore for i in range(1, len(parts) + 1))


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
    return diff_tree(root, manifest, ignore=ignored_paths(root, manifest))


