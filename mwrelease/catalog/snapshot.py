"""The JSON snapshot format of shared/data/extension-metadata (one NAME.json per extension/skin)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mwrelease.catalog.candidate import _EMPTY, _NOT_DECLARED, Candidate, Requires
from mwrelease.errors import ConfigError, SourceError


class SnapshotSource:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.description = f"snapshot:{self.path}"
        if not self.path.exists():
            raise SourceError(f"Snapshot source {self.path} does not exist.",
                              hint="Point --catalog at a directory of NAME.json snapshot files.")

    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return sorted(p for p in self.path.glob("*.json"))

    def candidates(self) -> Iterator[Candidate]:
        for f in self.files():
            yield from self._read(f)

    def lazy(self) -> LazySnapshot | None:
        """The directory read one NAME.json at a time (None for a single file: read it whole)."""
        return LazySnapshot(self) if self.path.is_dir() else None

    @staticmethod
    def _read(f: Path) -> list[Candidate]:
        try:
            data = json.loads(f.read_bytes())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Snapshot {f} is not valid JSON: {exc}.") from None
        if not isinstance(data, dict) or "refs" not in data:
            return []  # not a snapshot file (e.g. some other JSON in the directory)
        return _from_snapshot(data, origin=f"snapshot:{f}")


class LazySnapshot:
    """A ``LazyPart`` of catalog.Catalog: NAME.json is read the first time NAME is looked up."""

    def __init__(self, source: SnapshotSource) -> None:
        # source.files(), without building and sorting 2,000 Paths (same order: one directory, names compared as strings)
        # (the Path of a file is made when it is read: a resolve reads a few hundred of 2,000)
        names = sorted(n for n in os.listdir(source.path) if n.endswith(".json"))
        self._dir = source.path
        self._files = {(n[:-5] or n): n for n in names}  # Path.stem (".json" is its own stem)
        self._read: dict[str, list[Candidate]] = {}

    def stems(self) -> list[str]:
        return list(self._files)

    def read(self, name: str) -> list[Candidate]:
        got = self._read.get(name)
        if got is None:
            got = self._read[name] = SnapshotSource._read(self._dir / self._files[name])  # noqa: SLF001
        return got


def _from_snapshot(data: dict[str, Any], *, origin: str) -> list[Candidate]:
    """Every ref of one NAME.json: the values of ``Candidate(...)`` and ``Requires.from_manifest(...)`` (see
    ``frozen_value``), built inline; a resolve builds thousands, most of them for refs it will not choose."""
    name = data["name"]
    kind = data.get("kind", "extension")
    repo = data.get("repo")
    new = object.__new__
    out = []
    for r in data["refs"]:
        ej = r.get("extension_json")
        composer = r.get("composer_require")
        if ej:
            version, requires = ej.get("version"), ej.get("requires")
        else:
            version = requires = None
        if isinstance(requires, dict):  # Requires.from_manifest(requires)
            mediawiki, platform = requires.get("MediaWiki"), requires.get("platform")
            exts, skins = requires.get("extensions"), requires.get("skins")
            req = new(Requires)
            req.__dict__.update({
                "mediawiki": None if mediawiki is None else str(mediawiki),
                "platform": MappingProxyType(dict(platform)) if platform else _EMPTY,
                "extensions": MappingProxyType({k: str(v) for k, v in exts.items()}) if exts else _EMPTY,
                "skins": MappingProxyType({k: str(v) for k, v in skins.items()}) if skins else _EMPTY,
                "declared": True,
            })
        else:
            req = _NOT_DECLARED
        cand = new(Candidate)
        cand.__dict__.update({
            "name": name,
            "kind": kind,
            "ref": r.get("ref"),
            "ref_type": r.get("ref_type") or "branch",
            "commit": r.get("commit"),
            "commit_date": r.get("commit_date"),
            "version": version,
            "requires": req,
            "composer_require": MappingProxyType(dict(composer)) if composer else _EMPTY,
            "has_manifest": ej is not None,
            "display_name": None,
            "origin": origin,
            "repo": repo,
            "path": None,
        })
        out.append(cand)
    return out
