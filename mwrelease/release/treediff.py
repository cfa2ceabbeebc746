"""How a tree differs from a release manifest's file list, file by file (changed, missing, added).

The one comparison behind both sides: `verify_tree` checks an unpacked artifact before it is installed (any
difference is damage or tampering), and the admin side (`mwrelease.upgrade.treediff`) lists an installed wiki's
local changes after leaving out what belongs to the installation. A file is changed when its symlink target,
sha256 or (for a regular file) mode differs from the manifest's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import IntegrityError
from mwrelease.release.manifest import FileEntry, Manifest, scan_tree


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


def diff_tree(tree: Path, manifest_files: Iterable[FileEntry], *, ignore: frozenset[str] = frozenset()) -> TreeDiff:
    """Compare ``tree`` with ``manifest_files`` file by file (content, symlink target, mode). ``ignore`` names
    paths (top-level entries or directories such as ``extensions/MyExt``) that are not compared."""
    expected = {f.path: f for f in manifest_files}
    changed: list[str] = []
    added: list[str] = []
    seen: set[str] = set()
    for entry in scan_tree(tree):
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
    if not ignore:
        return False
    parts = path.split("/")
    return any("/".join(parts[:i]) in ignore for i in range(1, len(parts) + 1))


def verify_tree(root: Path, manifest: Manifest, *, ignore: frozenset[str] = frozenset()) -> None:
    """Raise IntegrityError unless root holds exactly the manifest's files, with their hashes and modes.

    ``ignore`` names top-level entries the admin adds to a tree (LocalSettings.php, images, ...).
    """
    diff = diff_tree(root, manifest.files, ignore=ignore)
    # Changed and added files in path order (as the tree is scanned), then the missing ones.
    found = sorted([(p, f"unexpected file {p}") for p in diff.added]
                   + [(p, f"{p} differs from the manifest") for p in diff.changed])
    problems = [why for _, why in found] + [f"missing file {p}" for p in diff.missing]
    if problems:
        raise IntegrityError(
            f"The unpacked tree of {manifest.name} does not match its manifest ({len(problems)} problem(s)); "
            "the artifact was damaged or tampered with, so it will not be installed.",
            details=problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else []),
            hint="Download it again from the release channel; if it fails again, tell the release managers.")
