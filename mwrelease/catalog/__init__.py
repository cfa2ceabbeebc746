"""Catalog: what extension and skin refs exist, and what each declares it needs.

Every source (a snapshot directory, a directory of extension trees, a core tree, a git repository)
turns into ``Candidate`` values. ``open_source(spec)`` picks the source for a command-line spec:

- ``snapshot:DIR`` or a directory of ``NAME.json`` snapshot files (the format of
  ``shared/data/extension-metadata``),
- ``tree:DIR`` or a directory whose subdirectories hold ``extension.json`` / ``skin.json``,
- ``core:DIR`` or a MediaWiki core tree (has ``includes/`` and ``extensions/``): its bundled
  extensions and skins, at the core's own version,
- ``git:URL`` or a URL / path ending in ``.git``: the repository's REL1_xx branches, archived
  REL1_xx tags and version tags, read without a checkout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mwrelease.catalog.candidate import Candidate, Catalog, CatalogSource, Kind, LazyPart, Requires, read_manifest
from mwrelease.errors import SourceError

__all__ = ["Candidate", "Catalog", "CatalogSource", "Kind", "Requires", "default_snapshot_dir", "load_catalog",
           "open_source", "read_manifest"]


def open_source(spec: str) -> CatalogSource:
    """Turn a ``--catalog`` argument into a source (see the module docstring for the forms)."""
    # Each source module is imported only when its kind is used (git.py compiles regexes, trees.py walks).
    def git(arg: str) -> CatalogSource:
        from mwrelease.catalog.git import GitSource

        return GitSource(arg)

    def snapshot(arg: str) -> CatalogSource:
        from mwrelease.catalog.snapshot import SnapshotSource

        return SnapshotSource(arg)

    def tree(arg: str) -> CatalogSource:
        from mwrelease.catalog.trees import TreeSource

        return TreeSource(arg)

    def core(arg: str) -> CatalogSource:
        from mwrelease.catalog.trees import CoreTreeSource

        return CoreTreeSource(arg)

    prefix, _, rest = spec.partition(":")
    explicit = {"snapshot": snapshot, "tree": tree, "core": core, "git": git}
    if prefix in explicit and rest and not spec.startswith(("git://",)):
        return explicit[prefix](rest)
    if re.match(r"^(https?|ssh|git|file)://", spec) or spec.endswith(".git"):
        return git(spec)
    path = Path(spec)
    if not path.exists():
        raise SourceError(
            f"Catalog source {spec!r} does not exist.",
            hint="Give a directory of extension.json snapshots, a directory of extension trees, a MediaWiki core "
            "tree, or a git URL (prefix it with git:, snapshot:, tree: or core: to say which).",
        )
    if path.is_file():
        return snapshot(str(path))
    if (path / "includes" / "Defines.php").is_file():
        return core(str(path))
    if any(path.glob("*.json")):
        return snapshot(str(path))
    if (path / ".git").exists() or (path / "HEAD").is_file() and (path / "refs").is_dir():
        return git(str(path))
    return tree(str(path))


def load_catalog(specs: Iterable[str]) -> Catalog:
    """The sources' candidates; snapshot directories are read lazily (see ``Catalog``)."""
    sources = [open_source(s) for s in specs]
    parts: list[Iterable[Candidate] | LazyPart] = []
    for s in sources:
        lazy = getattr(s, "lazy", None)
        part = lazy() if lazy is not None else None
        parts.append(part if part is not None else list(s.candidates()))
    return Catalog.of_parts(parts, sources=[s.description for s in sources])


def default_snapshot_dir() -> Path | None:
    """``$MWRELEASE_CATALOG``; else ``../shared/data/extension-metadata`` beside a checkout (the newest data
    while developing); else the snapshot shipped inside the package, so a `pip install` has a catalog too."""
    import os

    env = os.environ.get("MWRELEASE_CATALOG")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[3] / "shared" / "data" / "extension-metadata"
    if here.is_dir():
        return here
    packaged = Path(__file__).resolve().parents[1] / "data" / "catalog"
    return packaged if any(packaged.glob("*.json")) else None
