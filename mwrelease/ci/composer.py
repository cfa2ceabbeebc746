"""Composer libraries an extension needs that neither its own tree nor MediaWiki core provides.

Packagist is out of reach on the machines that run cells, so an extension whose ``composer.json``
requires a library that is not in core's ``vendor/`` (and has no ``vendor/`` of its own) cannot be
tested honestly: `mwrelease ci` reports it as ``needs-composer`` instead of running it and calling
the missing class a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

# Requirements that are not libraries to install: the platform, and Composer's own plugins.
_PLATFORM_PREFIXES = ("php", "ext-", "lib-", "composer/", "composer-plugin-api", "hhvm")


def library_requires(tree: Path) -> dict[str, str]:
    """``composer.json`` "require" without the platform and Composer plugins."""
    try:
        data = json.loads((tree / "composer.json").read_text())
    except (OSError, ValueError):
        return {}
    req = data.get("require") if isinstance(data, dict) else None
    if not isinstance(req, dict):
        return {}
    return {str(k): str(v) for k, v in req.items()
            if not (k == "php" or any(str(k).startswith(p) for p in _PLATFORM_PREFIXES[1:]))}


def core_packages(core_tree: Path) -> dict[str, str] | None:
    """Package name -> version in a core tree's ``vendor/composer/installed.json`` (None: unknown)."""
    try:
        data = json.loads((core_tree / "vendor" / "composer" / "installed.json").read_text())
    except (OSError, ValueError):
        return None
    packages = data.get("packages", []) if isinstance(data, dict) else data
    return {str(p.get("name")): str(p.get("version", "")) for p in packages if isinstance(p, dict)}


def missing_libraries(tree: Path, core: dict[str, str] | None) -> list[str]:
    """``"name constraint"`` of every required library neither the tree's vendor/ nor core has.

    Core's copy counts by name: MediaWiki loads one copy of a library, the core's, whatever the
    extension's constraint says (a version clash then shows as a failing check, which is honest)."""
    if (tree / "vendor" / "autoload.php").is_file():
        return []
    need = library_requires(tree)
    have = core or {}
    return [f"{name} {constraint}" for name, constraint in sorted(need.items()) if name not in have]


def core_tree_for(line: str, catalog_specs: tuple[str, ...] | list[str]) -> Path | None:
    """A core tree of ``line`` to read core's vendor/ from: a ``core:DIR`` catalog source of that line,
    else this checkout's ``.cache/cores/<line>`` (ci/fetch-core-trees.sh)."""
    from mwrelease.errors import MwreleaseError
    from mwrelease.mwtree import core_version_of

    for spec in catalog_specs:
        if spec.startswith("core:"):
            p = Path(spec[5:])
            try:
                if ".".join(core_version_of(p).split(".")[:2]) == line:
                    return p
            except MwreleaseError:  # not a core tree: the catalog will say so
                continue
    here = Path(__file__).resolve().parents[2] / ".cache" / "cores" / line
    return here if (here / "vendor").is_dir() else None
