"""What the catalog knows about one ref of one extension or skin (``Candidate``), and the catalog itself.

Every source module (snapshot, trees, git) builds ``Candidate`` values from here; the package's
``__init__`` only picks and opens sources, so that no source imports the module that imports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol, TypeVar

from mwrelease.errors import ConfigError

Kind = Literal["extension", "skin"]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, kw_only=True)
class Requires:
    """The ``requires`` block of extension.json/skin.json, split the way VersionChecker reads it."""

    mediawiki: str | None = None
    platform: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # "php": constraint, "ext-curl": "*", "ability-shell": True
    extensions: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    skins: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    declared: bool = False  # False: no "requires" at all -> compatibility unknown

    @classmethod
    def from_manifest(cls, requires: Any) -> Requires:
        if not isinstance(requires, dict):
            return _NOT_DECLARED
        platform, exts, skins = requires.get("platform"), requires.get("extensions"), requires.get("skins")
        return frozen_value(cls, {  # an absent or empty block shares one empty mapping (a catalog has tens of thousands)
            "mediawiki": _str_or_none(requires.get("MediaWiki")),
            "platform": MappingProxyType(dict(platform)) if platform else _EMPTY,
            "extensions": MappingProxyType({k: str(v) for k, v in exts.items()}) if exts else _EMPTY,
            "skins": MappingProxyType({k: str(v) for k, v in skins.items()}) if skins else _EMPTY,
            "declared": True,
        })

    @property
    def php(self) -> str | None:
        v = self.platform.get("php")
        return v if isinstance(v, str) else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.mediawiki is not None:
            out["MediaWiki"] = self.mediawiki
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.extensions:
            out["extensions"] = dict(self.extensions)
        if self.skins:
            out["skins"] = dict(self.skins)
        return out


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


_NOT_DECLARED = Requires()
_T = TypeVar("_T")


def frozen_value(cls: type[_T], fields: dict[str, Any]) -> _T:
    """``cls(**fields)`` for a frozen dataclass without an ``__post_init__``, every field given. Its generated
    ``__init__`` sets each field through ``object.__setattr__``, some 5 times slower than this; a resolve reads
    up to 15,000 refs (tests/unit/test_catalog.py checks the fields stay complete)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True, kw_only=True, eq=False)  # identity: two refs with equal fields are still two refs
class Candidate:
    """One ref of one extension or skin, with what it declares."""

    name: str
    kind: Kind
    ref: str | None
    ref_type: str  # branch | tag | archive-tag | tree | bundled | indexed-file-version
    commit: str | None = None
    commit_date: str | None = None
    version: str | None = None  # declared "version" of extension.json, verbatim
    requires: Requires = field(default_factory=Requires)
    composer_require: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    has_manifest: bool = True  # False: no extension.json/skin.json at this ref (legacy PHP entry point)
    display_name: str | None = None  # extension.json "name" when it differs from the load name
    origin: str = ""  # where this metadata was read: "snapshot:/…/Cite.json", "git:file:///…", "core:/usr/share/mediawiki"
    repo: str | None = None  # git URL or "owner/name" where the code can be fetched
    path: str | None = None  # local tree, for tree/core sources

    @property
    def label(self) -> str:
        return f"{self.name} {self.ref or self.commit or '?'}"

    @property
    def rel_line(self) -> str | None:
        """'1.43' for REL1_43 branches and archive tags, else None."""
        if not (self.ref or "").startswith("REL"):
            return None
        m = re.fullmatch(r"REL(\d+)_(\d+)", self.ref or "")
        return f"{m.group(1)}.{m.group(2)}" if m else None

    @property
    def clean_version(self) -> str | None:
        """The declared version without MLEB's '[https://… MLEB 2023.10]' decorations."""
        if not self.version:
            return None
        return self.version.split(" [", 1)[0].strip() or None


class CatalogSource(Protocol):
    description: str

    def candidates(self) -> Iterable[Candidate]: ...


class LazyPart(Protocol):
    """A source read one name at a time (a snapshot directory: NAME.json holds NAME's refs)."""

    def stems(self) -> list[str]: ...  # the names it holds, in the order a full read yields them

    def read(self, name: str) -> list[Candidate]: ...  # NAME's refs; the same objects on every call


class Catalog:
    """All candidates from all sources, indexed by name (names are case-sensitive, as in MediaWiki).

    ``Catalog.of_parts`` keeps snapshot directories lazy: a lookup reads only NAME.json (a resolve of 300
    extensions out of 2,000 reads 15% of the files). The answers are those of reading everything first:
    a name no file stem gives, a file whose refs carry another name or an alias, and every whole-catalog
    question (``names``, ``all``, ``len``) read everything, then answer from the full index."""

    def __init__(self, candidates: Iterable[Candidate], *, sources: list[str] | None = None) -> None:
        self._by_name: dict[str, list[Candidate]] = {}
        self._alias: dict[str, str] = {}  # extension.json "name" -> load name, for requires.extensions keys
        self._index(candidates)
        self.sources = sources or []
        self._parts: list[dict[str, list[Candidate]] | LazyPart] = []
        self._stems: list[set[str]] = []
        self._full = True

    @classmethod
    def of_parts(cls, parts: Iterable[Iterable[Candidate] | LazyPart], *, sources: list[str]) -> Catalog:
        """A catalog of sources in order, each a list of candidates or a ``LazyPart``."""
        cat = cls([], sources=sources)
        for part in parts:
            if hasattr(part, "stems"):
                lazy: LazyPart = part  # type: ignore[assignment]
                cat._parts.append(lazy)
                cat._stems.append(set(lazy.stems()))
                cat._full = False
            else:
                own = Catalog(part)
                cat._parts.append(own._by_name)
                cat._stems.append(set())
                cat._alias.update(own._alias)
        if cat._full:
            cat._materialize()
        return cat

    def _index(self, candidates: Iterable[Candidate]) -> None:
        for c in candidates:
            self._by_name.setdefault(c.name, []).append(c)
            if c.display_name and c.display_name != c.name:
                self._alias[c.display_name] = c.name

    def _materialize(self) -> None:
        if not self._parts:
            return
        self._by_name, self._alias = {}, {}
        for part in self._parts:
            if isinstance(part, dict):
                self._index(c for cands in part.values() for c in cands)
            else:
                for stem in part.stems():
                    self._index(part.read(stem))
        self._parts, self._stems, self._full = [], [], True

    def _own(self, name: str) -> list[Candidate] | None:
        """The refs named ``name`` without reading everything, or None when that would not be exact."""
        if self._full:
            return self._by_name.get(name)
        out: list[Candidate] = []
        for part, stems in zip(self._parts, self._stems):
            if isinstance(part, dict):
                out.extend(part.get(name, ()))
            elif name in stems:
                cands = part.read(name)
                if any(c.name != name or c.display_name and c.display_name != name for c in cands):
                    return None
                out.extend(cands)
        return out or None

    def _lookup(self, name: str) -> list[Candidate] | None:
        own = self._own(name)
        if own is None and not self._full:
            self._materialize()
            own = self._by_name.get(name)
        return own

    def names(self) -> list[str]:
        self._materialize()
        return sorted(self._by_name, key=str.lower)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (self._lookup(name) is not None or name in self._alias)

    def candidates(self, name: str) -> list[Candidate]:
        own = self._lookup(name)
        if own:
            return list(own)
        target = self._alias.get(name)
        return list(self._lookup(target) or []) if target else []

    def all(self) -> Iterable[Candidate]:
        for name in self.names():
            yield from self._by_name[name]

    def kind_of(self, name: str) -> Kind | None:
        cands = self._lookup(name)
        return cands[0].kind if cands else None

    def close_matches(self, name: str) -> list[str]:
        import difflib

        lower = {n.lower(): n for n in self.names()}
        hits = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.75)
        return [lower[h] for h in hits]

    def __len__(self) -> int:
        self._materialize()
        return sum(len(v) for v in self._by_name.values())


def read_manifest(text: str, *, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}.", hint="Fix the file or remove it from the catalog source.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where} is not a JSON object.")
    return data
