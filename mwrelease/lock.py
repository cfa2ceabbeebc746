"""The lock: what a bundle resolved to, exact enough to rebuild and test it anywhere.

File format (JSON, ``format: "mwrelease.lock/1"``)::

    {
      "format": "mwrelease.lock/1",
      "bundle": "tarball-1.43",                 # bundle name
      "flavor": "tarball",
      "core": {"version": "1.43.5", "line": "1.43"},
      "php": ["8.2", "8.4"],                    # PHP versions the bundle targets (may be empty)
      "databases": ["sqlite", "mariadb"],
      "components": [
        {"name": "Cite", "kind": "extension", "ref": "REL1_43", "ref_type": "branch",
         "commit": "…" | null, "version": "…" | null,
         "source": {"type": "bundled" | "git" | "path" | "tarball", "url": "…", "path": "…", "sha256": "…"},
         "catalog": "snapshot:/…/Cite.json",    # where the metadata came from
         "requires": {"MediaWiki": ">= 1.43", "platform": {...}, "extensions": {...}, "skins": {...}},
         "required_by": ["bundle"] | ["Thanks"], # why it is in the lock
         "settings": "$wgFoo = true;\n",        # PHP lines for LocalSettings.php
         "smoke": [{"name": "...", "wikitext": "...", "expect": "..."}],
         "load": true}                          # false: in the tree but not wfLoad*'ed
      ],
      "generated_by": "mwrelease 0.1.0"
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mwrelease.errors import ConfigError
from mwrelease.fsutil import write_atomic
from mwrelease.jsonfile import canonical_json, read_json

LOCK_FORMAT = "mwrelease.lock/1"
Kind = Literal["extension", "skin"]


@dataclass(frozen=True, kw_only=True)
class SmokeCheck:
    name: str
    wikitext: str
    expect: str


@dataclass(frozen=True, kw_only=True)
class Source:
    type: Literal["bundled", "git", "path", "tarball"]
    url: str | None = None
    path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class LockedComponent:
    name: str
    kind: Kind
    ref: str | None
    ref_type: str
    commit: str | None
    version: str | None
    source: Source
    catalog: str
    requires: dict[str, Any] = field(default_factory=dict)
    required_by: tuple[str, ...] = ("bundle",)
    settings: str = ""
    smoke: tuple[SmokeCheck, ...] = ()
    load: bool = True

    @property
    def load_line(self) -> str:
        fn = "wfLoadSkin" if self.kind == "skin" else "wfLoadExtension"
        return f"{fn}( '{self.name}' );"


@dataclass(frozen=True, kw_only=True)
class Lock:
    bundle: str
    flavor: str
    core_version: str
    core_line: str
    php: tuple[str, ...]
    databases: tuple[str, ...]
    components: tuple[LockedComponent, ...]
    generated_by: str = ""

    def component(self, name: str) -> LockedComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "bundle": self.bundle,
            "flavor": self.flavor,
            "core": {"version": self.core_version, "line": self.core_line},
            "php": list(self.php),
            "databases": list(self.databases),
            "components": [_component_json(c) for c in self.components],
            "generated_by": self.generated_by,
        }

    def dump(self, path: Path, *, data: dict[str, Any] | None = None) -> None:
        """Write the lock; ``data``: its ``to_json()`` when the caller has it already."""
        write_atomic(path, json.dumps(data if data is not None else self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "lock") -> Lock:
        if data.get("format") != LOCK_FORMAT:
            raise ConfigError(f"{origin} is not an mwrelease lock (format {data.get('format')!r}, expected {LOCK_FORMAT!r}).",
                              hint="Create a lock with `mwrelease resolve BUNDLE --core VERSION -o FILE`.")
        try:
            comps = tuple(
                LockedComponent(
                    name=c["name"], kind=c["kind"], ref=c.get("ref"), ref_type=c.get("ref_type", ""),
                    commit=c.get("commit"), version=c.get("version"), source=Source(**c["source"]),
                    catalog=c.get("catalog", ""), requires=c.get("requires") or {},
                    required_by=tuple(c.get("required_by", ["bundle"])), settings=c.get("settings", ""),
                    smoke=tuple(SmokeCheck(**s) for s in c.get("smoke", [])), load=c.get("load", True),
                )
                for c in data["components"]
            )
            return cls(bundle=data["bundle"], flavor=data.get("flavor", ""), core_version=data["core"]["version"],
                       core_line=data["core"]["line"], php=tuple(data.get("php", [])),
                       databases=tuple(data.get("databases", ["sqlite"])), components=comps,
                       generated_by=data.get("generated_by", ""))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{origin} is a damaged lock: missing or wrong field {exc}.",
                              hint="Regenerate it with `mwrelease resolve`.") from None

    @classmethod
    def load(cls, path: Path) -> Lock:
        data = read_json(path, what="Lock file", hint="Create or regenerate it with `mwrelease resolve`.")
        return cls.from_json(data, origin=str(path))


def _component_json(c: LockedComponent) -> dict[str, Any]:
    # What dataclasses.asdict gave, field by field: asdict deep-copies through every value, and a lock of
    # 700 components spent most of `resolve -o` there.
    return {
        "name": c.name, "kind": c.kind, "ref": c.ref, "ref_type": c.ref_type, "commit": c.commit, "version": c.version,
        "source": {k: v for k, v in (("type", c.source.type), ("url", c.source.url), ("path", c.source.path),
                                     ("sha256", c.source.sha256)) if v is not None},
        "catalog": c.catalog, "requires": _copy(c.requires), "required_by": list(c.required_by), "settings": c.settings,
        "smoke": [{"name": s.name, "wikitext": s.wikitext, "expect": s.expect} for s in c.smoke], "load": c.load,
    }


def _copy(value: Any) -> Any:
    """A copy of JSON data (as asdict made), so a caller editing the output leaves the lock alone."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def lock_digest(lock: Lock) -> str:
    """sha256 of the lock's canonical JSON (sorted keys, no whitespace): the same for the same lock
    whether it was read from a file or resolved in memory, and independent of indentation."""
    import hashlib  # here: not on resolve's start-up path

    return hashlib.sha256(canonical_json(lock.to_json())).hexdigest()
