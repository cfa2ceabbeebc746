"""Extension and skin trees on disk: a directory of them, or a MediaWiki core tree's bundled set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

from mwrelease.catalog.candidate import Candidate, Kind, Requires, read_manifest
from mwrelease.errors import SourceError
from mwrelease.mwtree import component_dirs, core_version_of


def candidate_from_tree(path: Path, *, kind: Kind | None, ref: str | None, ref_type: str, origin: str) -> Candidate | None:
    """Read one extension/skin directory; None when it has neither extension.json nor skin.json."""
    manifest_names = ["skin.json", "extension.json"] if kind == "skin" else ["extension.json", "skin.json"]
    for fname in manifest_names:
        f = path / fname
        if f.is_file():
            data = read_manifest(f.read_text(), where=str(f))
            composer: dict[str, str] = {}
            cj = path / "composer.json"
            if cj.is_file():
                try:
                    composer = dict(read_manifest(cj.read_text(), where=str(cj)).get("require") or {})
                except Exception:  # a broken composer.json does not hide the extension
                    composer = {}
            return Candidate(
                # wfLoadExtension() takes the directory name; extension.json's "name" can differ ("Abuse Filter").
                name=path.name,
                display_name=str(data.get("name") or path.name),
                kind=kind or ("skin" if fname == "skin.json" else "extension"),
                ref=ref,
                ref_type=ref_type,
                version=data.get("version"),
                requires=Requires.from_manifest(data.get("requires")),
                composer_require=MappingProxyType(composer),
                origin=origin,
                path=str(path),
            )
    return None


class TreeSource:
    """A directory whose subdirectories are extension or skin trees."""

    def __init__(self, path: str, *, ref: str | None = None) -> None:
        self.path = Path(path)
        self.ref = ref
        self.description = f"tree:{self.path}"
        if not self.path.is_dir():
            raise SourceError(f"Extension tree directory {self.path} does not exist.")

    def candidates(self) -> Iterator[Candidate]:
        for sub in sorted(p for p in self.path.iterdir() if p.is_dir()):
            c = candidate_from_tree(sub, kind=None, ref=self.ref or "tree", ref_type="tree", origin=self.description)
            if c is not None:
                yield c


class CoreTreeSource:
    """The extensions and skins a core tree bundles, each at the core's REL branch."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.description = f"core:{self.path}"
        if not self.path.is_dir():
            raise SourceError(f"Core tree {self.path} does not exist.")
        self.version = core_version_of(self.path, error=SourceError)

    def candidates(self) -> Iterator[Candidate]:
        from mwrelease.versions import core_line, rel_branch

        ref = rel_branch(core_line(self.version))
        # Debian's package keeps the bundled extensions in extensions-core/ (extensions/ is a symlink
        # into /var/lib/mediawiki for the admin's own); upstream tarballs have them in extensions/.
        for kind, ext in component_dirs(self.path, debian=True):
            c = candidate_from_tree(ext, kind=kind, ref=ref, ref_type="bundled", origin=self.description)
            if c is not None:
                yield c
