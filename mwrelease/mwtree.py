"""A MediaWiki core tree on disk: its version, its PHP requirement, the admin's entries, its extensions and skins.

The one place that knows how a core tree is laid out, for the catalog (a core tree as a source of bundled
extensions), the release builder (a tree becoming an artifact) and the admin side (an installed wiki).

Two layouts exist: upstream's (a release tarball: extensions/ and skins/ hold the bundled ones) and Debian's
``mediawiki`` package (/usr/share/mediawiki: the bundled extensions are in extensions-core/, and extensions/
is a link to an admin directory in /var/lib/mediawiki).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mwrelease.errors import ConfigError, MwreleaseError

# Top-level entries that belong to an installation, not to a release.
ADMIN_ENTRIES = frozenset({"LocalSettings.php", "images", "cache", ".mwrelease"})
# Debian-only top-level entries: bundled extensions live in extensions-core (extensions/ is a link to an
# admin directory in /var/lib/mediawiki), and config/ links to /var/lib/mediawiki/config.
DEBIAN_ENTRIES = frozenset({"extensions-core", "config"})
DEBIAN_CORE_PATH = "/usr/share/mediawiki"

ComponentKind = Literal["extension", "skin"]

_MW_VERSION = re.compile(r"""define\(\s*['"]MW_VERSION['"]\s*,\s*['"]([0-9][^'"]*)['"]\s*\)""")
_WG_VERSION = re.compile(r"""\$wgVersion\s*=\s*['"]([0-9][^'"]*)['"]""")
_COMPONENT_SUBDIRS: tuple[tuple[str, ComponentKind], ...] = (
    ("extensions-core", "extension"), ("extensions", "extension"), ("skins", "skin"))
_MINIMUM_PHP = re.compile(r"\$minimumVersion\s*=\s*'([0-9.]+)'")


def core_version_of(tree: Path, *, error: type[MwreleaseError] = ConfigError) -> str:
    """The core version a tree declares (MW_VERSION in includes/Defines.php since 1.35, $wgVersion in
    includes/DefaultSettings.php before); ``error`` when it declares none."""
    for rel, rx in (("includes/Defines.php", _MW_VERSION), ("includes/DefaultSettings.php", _WG_VERSION)):
        p = tree / rel
        if p.is_file():
            m = rx.search(p.read_text(errors="replace"))
            if m:
                return m.group(1)
    raise error(f"{tree} does not look like a MediaWiki core tree: no MW_VERSION in includes/Defines.php "
                "and no $wgVersion in includes/DefaultSettings.php.",
                hint="Point at the directory that holds index.php, includes/ and maintenance/.")


def php_requirement_of(tree: Path) -> str | None:
    """Core's PHP requirement from composer.json ("require": {"php": ...}) or PHPVersionCheck.php."""
    cj = tree / "composer.json"
    if cj.is_file():
        try:
            req = json.loads(cj.read_text()).get("require", {}).get("php")
            if isinstance(req, str):
                return req
        except json.JSONDecodeError:
            pass
    check = tree / "includes/PHPVersionCheck.php"
    if check.is_file():
        m = _MINIMUM_PHP.search(check.read_text(errors="replace"))
        if m:
            return f">= {m.group(1)}"
    return None


def component_dirs(tree: Path, *, debian: bool = False) -> Iterator[tuple[ComponentKind, Path]]:
    """Every extension and skin directory of a core tree, extensions first, each sorted by name.

    With ``debian``, a tree that has extensions-core/ (Debian's package) is read from there instead of
    extensions/, which on Debian holds the admin's own extensions, not the bundled ones.
    """
    for sub, kind in _COMPONENT_SUBDIRS:
        d = tree / sub
        if sub == "extensions-core" and not debian:
            continue
        if not d.is_dir() or (debian and sub == "extensions" and (tree / "extensions-core").is_dir()):
            continue
        for p in sorted(p for p in d.iterdir() if p.is_dir()):
            yield kind, p


@dataclass(frozen=True, kw_only=True)
class TreeComponent:
    """An extension or skin directory in a core tree, with its extension.json or skin.json."""

    name: str  # the directory name, which wfLoadExtension() takes
    kind: ComponentKind
    path: str  # relative to the tree: "extensions/Cite", "skins/Vector"
    meta: Mapping[str, Any]  # extension.json / skin.json; empty when missing or unreadable

    @property
    def version(self) -> str | None:
        v = self.meta.get("version")
        return v if isinstance(v, str) else None

    @property
    def requires_mediawiki(self) -> str | None:
        requires = self.meta.get("requires")
        req = requires.get("MediaWiki") if isinstance(requires, dict) else None
        return req if isinstance(req, str) else None


def components(tree: Path) -> list[TreeComponent]:
    """The extensions and skins in an upstream-layout tree (extensions/ and skins/), extensions first."""
    out: list[TreeComponent] = []
    for kind, d in component_dirs(tree):
        meta = read_json_object(d / ("skin.json" if kind == "skin" else "extension.json"))
        out.append(TreeComponent(name=d.name, kind=kind, path=f"{d.parent.name}/{d.name}", meta=meta))
    return out


def read_json_object(p: Path) -> dict[str, Any]:
    """A JSON object from ``p``; {} when it is missing, unreadable, not JSON or not an object."""
    try:
        data = json.loads(p.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}
