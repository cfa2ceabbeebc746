"""`mwrelease ci` in an extension or skin checkout: which lines to test, what else to load, which cells.

    checkout = read_checkout(Path("."))
    config = load_config(checkout.path)               # .mwrelease.yaml, optional
    sessions = plan_ci(checkout, config, catalog=catalog, lines=[], withs={}, dbs=[])

The checkout's working tree is a ``path`` component (uncommitted changes included, nothing cloned);
what its ``requires.extensions/skins`` names comes from the catalog through the resolver, as for any
bundle. Cells are isolated: only the checkout and what it requires are loaded, so the verdict is the
checkout's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mwrelease.catalog import Candidate, Catalog
from mwrelease.errors import ConfigError
from mwrelease.runner.session import Session

CONFIG_NAME = ".mwrelease.yaml"


@dataclass(frozen=True, kw_only=True)
class Checkout:
    path: Path
    name: str
    kind: str                   # extension | skin
    manifest: str               # extension.json | skin.json
    candidate: Candidate


@dataclass(frozen=True, kw_only=True)
class RepoConfig:
    settings: str = ""
    smoke: tuple[Mapping[str, str], ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    skins: Mapping[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    databases: tuple[str, ...] = ()
    skip_lines: tuple[str, ...] = ()
    skip_databases: tuple[str, ...] = ()


def read_checkout(path: Path) -> Checkout:
    from mwrelease.catalog.trees import candidate_from_tree

    path = path.resolve()
    manifest = next((m for m in ("extension.json", "skin.json") if (path / m).is_file()), None)
    if manifest is None:
        raise ConfigError(f"{path} has neither extension.json nor skin.json.",
                          hint="Run `mwrelease ci` in the root of an extension or skin checkout, or give its path.")
    cand = candidate_from_tree(path, kind="skin" if manifest == "skin.json" else "extension", ref="working-tree",
                               ref_type="tree", origin=f"tree:{path}")
    if cand is None:  # pragma: no cover - the manifest exists
        raise ConfigError(f"{path / manifest} cannot be read.")
    # The manifest's name, not the checkout directory's (a clone is often "mediawiki-extensions-Echo");
    # without spaces, as the directory MediaWiki loads it from is named ("Clean Changes": CleanChanges).
    load_name = re.sub(r"\s+", "", cand.display_name or "")
    if load_name and load_name != cand.name and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", load_name):
        from dataclasses import replace

        cand = replace(cand, name=load_name)
    return Checkout(path=path, name=cand.name, kind=cand.kind, manifest=manifest, candidate=cand)


def config_schema() -> dict[str, Any]:
    return json.loads(resources.files("mwrelease").joinpath("schema/mwrelease-ci.schema.json").read_text())  # type: ignore[no-any-return]


def load_config(checkout: Path) -> RepoConfig:
    """``.mwrelease.yaml`` of the checkout (none: the defaults); every problem at once, with file:line."""
    from mwrelease.bundle import validate

    path = checkout / CONFIG_NAME
    if not path.is_file():
        return RepoConfig()
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}).") from None
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: {CONFIG_NAME} must be a mapping (settings, smoke, extensions, skins, lines, "
                          "databases, skip).")
    problems = validate(data, node, path, schema=config_schema())
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}:", details=problems,
                          hint="Every key is described in mwrelease/schema/mwrelease-ci.schema.json.")
    skip = data.get("skip") or {}
    return RepoConfig(settings=data.get("settings", ""), smoke=tuple(data.get("smoke") or ()),
                      extensions=data.get("extensions") or {}, skins=data.get("skins") or {},
                      lines=tuple(data.get("lines") or ()), databases=tuple(data.get("databases") or ()),
                      skip_lines=tuple(skip.get("lines") or ()), skip_databases=tuple(skip.get("databases") or ()))


def parse_with(values: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--with NAME=SOURCE``: ``bundled``, ``catalog``, ``@REF`` (a ref from the catalog), a git URL or
    a directory (a path component)."""
    out: dict[str, dict[str, Any]] = {}
    for v in values:
        name, sep, src = v.partition("=")
        name, src = name.strip(), src.strip()
        if not sep or not name or not src:
            raise ConfigError(f"--with {v!r}: expected NAME=SOURCE.",
                              hint="SOURCE: bundled, catalog, @REF, a git URL or a directory, e.g. --with Echo=@REL1_43")
        if src in ("bundled", "catalog"):
            out[name] = {"source": src}
        elif src.startswith("@"):
            out[name] = {"ref": src[1:]}
        elif "://" in src or src.endswith(".git"):
            out[name] = {"source": {"git": src}}
        else:
            p = Path(src).expanduser().resolve()
            if not p.is_dir():
                raise ConfigError(f"--with {v!r}: {p} is not a directory.")
            out[name] = {"source": {"path": str(p)}}
    return out


def available_lines() -> list[str]:
    from mwrelease.runner.suites import LINE_PHP

    return sorted(LINE_PHP, key=lambda s: tuple(int(x) for x in s.split(".")))


def choose_lines(checkout: Checkout, config: RepoConfig, asked: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The lines to test and, for every other line with an image, why not (declared incompatible,
    skipped by .mwrelease.yaml, not asked for)."""
    from mwrelease.compat import platform_reasons

    lines, why = [], {}
    for line in available_lines():
        reasons = platform_reasons(checkout.candidate, core=f"{line}.0")
        if asked and line not in asked:
            why[line] = "not asked for (--line)"
        elif config.lines and line not in config.lines:
            why[line] = f"not in {CONFIG_NAME} lines"
        elif line in config.skip_lines:
            why[line] = f"skipped by {CONFIG_NAME}"
        elif reasons:
            why[line] = "; ".join(r.message for r in reasons)
        else:
            lines.append(line)
    unknown = [a for a in asked if a not in available_lines()]
    if unknown:
        raise ConfigError(f"No image for MediaWiki {', '.join(unknown)}.",
                          hint=f"Lines with images: {', '.join(available_lines())}.")
    return lines, why


def bundle_data(checkout: Checkout, config: RepoConfig, line: str, withs: Mapping[str, Mapping[str, Any]],
                dbs: Sequence[str]) -> dict[str, Any]:
    """The bundle `mwrelease ci` tests on one line: the checkout (a path component) and the extra components."""
    own: dict[str, Any] = {"source": {"path": str(checkout.path)}}
    if config.settings:
        own["settings"] = config.settings
    if config.smoke:
        own["smoke"] = [dict(s) for s in config.smoke]
    data: dict[str, Any] = {"format": 1, "name": f"ci-{checkout.name}", "flavor": "ci",
                            "core": {"lines": [line]}, "databases": list(dbs), "extensions": {}, "skins": {}}
    for key, extra in (("extensions", config.extensions), ("skins", config.skins)):
        for name, spec in extra.items():
            data[key][name] = dict(spec or {})
    for name, spec in withs.items():
        key = "skins" if any(name == s for s in config.skins) else "extensions"
        data[key].setdefault(name, {}).update(spec)
    data["skins" if checkout.kind == "skin" else "extensions"][checkout.name] = own
    return {k: v for k, v in data.items() if v != {}}


def plan_ci(checkout: Checkout, config: RepoConfig, *, catalog: Catalog, lines: Sequence[str],
            withs: Mapping[str, Mapping[str, Any]], dbs: Sequence[str]) -> list[Session]:
    """One session per line: the checkout's isolated cells (and the skipped ones that say why not)."""
    from dataclasses import replace

    from mwrelease.bundle import parse_bundle
    from mwrelease.resolver import Target, resolve
    from mwrelease.runner.plan import plan

    databases = [d for d in (list(dbs) or list(config.databases) or ["sqlite"]) if d not in config.skip_databases]
    if not databases:
        raise ConfigError(f"Every database is skipped by {CONFIG_NAME}.")
    with_checkout = Catalog([*catalog.all(), checkout.candidate],
                            sources=[*catalog.sources, f"tree:{checkout.path}"])
    sessions = []
    for line in lines:
        spec = parse_bundle(yaml.safe_dump(bundle_data(checkout, config, line, withs, databases)),
                            origin=checkout.path / CONFIG_NAME)
        lock = resolve(spec, with_checkout, Target(core=f"{line}.0", php=spec.php)).lock
        cells = plan(lock, dbs=databases, isolate=True)
        mine = [c for c in cells if c.id.endswith(f"[{checkout.name}]")]
        sessions.append(Session(lock=lock, cells=tuple(replace(c, primary=c.db == "sqlite") for c in mine)))
    return sessions
