"""Canasta's RecommendedRevisions YAML (shared by Canasta and Taqasta), to and from mwrelease.

RecommendedRevisions lists, per core line, ``extensions:`` and ``skins:`` as one-key mappings::

    - Cite:
        bundled: true
    - SemanticMediaWiki:
        repository: https://github.com/SemanticMediaWiki/SemanticMediaWiki
        commit: 16171910b16165089d19fc6f66c414e6f62aa1eb # v. 6.0.0
        branch: master                       # default REL1_xx, or master when repository is given
        required extensions: [Scribunto]
        additional steps: [composer update, database update]
        persistent directories: [config]

Where no repository is given, it is Wikimedia's git repository of that name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock

WIKIMEDIA_GIT = "https://gerrit.wikimedia.org/r/mediawiki/{kind}s/{name}"
KNOWN_KEYS = {"repository", "branch", "commit", "bundled", "required extensions", "additional steps",
              "persistent directories", "patches", "Wikidata ID"}


def import_recommended_revisions(text: str, *, line: str, origin: str, name: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A bundle dict (ready to dump as bundles/NAME.yaml) and notes about what did not carry over."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not ({"extensions", "skins"} & set(data)):
        raise ConfigError(f"{origin} does not look like a RecommendedRevisions file (no extensions: or skins: list).")
    notes: list[str] = []
    bundle: dict[str, Any] = {
        "format": 1, "name": name or f"recommended-{line}", "flavor": "canasta",
        "description": f"Imported from Canasta RecommendedRevisions ({origin}).",
        "core": {"lines": [line]}, "databases": ["sqlite", "mariadb"], "extensions": {}, "skins": {},
    }
    rel = "REL" + line.replace(".", "_")
    for section in ("extensions", "skins"):
        for item in data.get(section) or []:
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"{origin}: each entry of {section} must be a one-key mapping (- Name: {{...}}), got {item!r}.")
            (ext_name, spec), = item.items()
            spec = spec or {}
            unknown = set(spec) - KNOWN_KEYS
            if unknown:
                notes.append(f"{ext_name}: ignored unknown keys {sorted(unknown)}")
            entry: dict[str, Any] = {}
            if spec.get("bundled"):
                entry["source"] = "bundled"
            else:
                repo = spec.get("repository") or WIKIMEDIA_GIT.format(kind=section[:-1], name=ext_name)
                entry["source"] = {"git": repo}
                entry["ref"] = spec.get("branch") or ("master" if spec.get("repository") else rel)
                if spec.get("commit"):
                    entry["commit"] = str(spec["commit"])
            for key in ("additional steps", "patches", "persistent directories"):
                if spec.get(key):
                    notes.append(f"{ext_name}: {key} {spec[key]} not carried over (mwrelease runs update.php itself; "
                                 f"composer steps and patches need a manual look)")
            bundle[section][ext_name] = entry or None
    if not bundle["skins"]:
        del bundle["skins"]
    return bundle, notes


def export_recommended_revisions(lock: Lock) -> str:
    """RecommendedRevisions YAML pinning exactly what the lock holds."""
    rel = "REL" + lock.core_line.replace(".", "_")
    sections: dict[str, list[dict[str, Any]]] = {"extensions": [], "skins": []}
    for c in lock.components:
        entry: dict[str, Any] = {}
        if c.source.type == "bundled":
            entry["bundled"] = True
        else:
            default_repo = WIKIMEDIA_GIT.format(kind=c.kind, name=c.name)
            url = c.source.url or default_repo
            wikimedia = url == default_repo or url.rstrip("/").removesuffix(".git").endswith(f"wikimedia/mediawiki-{c.kind}s-{c.name}")
            if not wikimedia:
                entry["repository"] = url
            default_branch = rel if wikimedia else "master"
            if c.ref and c.ref != default_branch and c.ref_type == "branch":
                entry["branch"] = c.ref
            if c.commit:
                entry["commit"] = c.commit
        deps = sorted((c.requires.get("extensions") or {}).keys())
        if deps:
            entry["required extensions"] = deps
        sections[c.kind + "s"].append({c.name: entry})
    header = (f"# Recommended revisions for MediaWiki {lock.core_line}, exported by {lock.generated_by or 'mwrelease'}\n"
              f"# from the lock of bundle {lock.bundle} (core {lock.core_version}).\n")
    return header + yaml.safe_dump({k: v for k, v in sections.items() if v}, sort_keys=False, allow_unicode=True)


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.") from None
