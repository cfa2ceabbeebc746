"""Inspect an installed wiki: core version, PHP, database, loaded extensions and skins, local changes.

The truth about a wiki is what its own LocalSettings.php says when PHP runs it, so we ask MediaWiki:
``maintenance/eval.php`` loads the full configuration (including anything LocalSettings.php includes
or computes) and prints what we need as JSON. When that fails (PHP missing, a broken setting), a
regex reading of LocalSettings.php gives a best effort, and the inspection says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError
from mwrelease.mwtree import components, core_version_of
from mwrelease.release.lines import line_of
from mwrelease.release.manifest import Manifest
from mwrelease.upgrade.treediff import wiki_diff

INSTALLED_MANIFEST = ".mwrelease/manifest.json"  # inside a tree installed by mwrelease
_MARK = "@@MWRELEASE@@"

# One line: eval.php reads statements line by line (1.39), and its output is framed by markers.
_EVAL = (
    "echo '" + _MARK + "' . json_encode(['version' => MW_VERSION, 'php' => PHP_VERSION, 'dbtype' => $wgDBtype, "
    "'dbname' => $wgDBname, 'dbserver' => $wgDBserver, 'dbuser' => $wgDBuser, 'dbpassword' => $wgDBpassword, "
    "'dbprefix' => $wgDBprefix, 'dbport' => $GLOBALS['wgDBport'] ?? null, 'sqlitedir' => $wgSQLiteDataDir, "
    "'server' => $wgServer, 'scriptpath' => $wgScriptPath, 'uploaddir' => $wgUploadDirectory, "
    "'readonly' => $wgReadOnly, 'sitename' => $wgSitename, "
    "'things' => ExtensionRegistry::getInstance()->getAllThings()]) . '" + _MARK + "' . PHP_EOL;\n"
)


@dataclass(frozen=True, kw_only=True)
class Database:
    type: str  # sqlite | mysql | postgres
    name: str
    server: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    port: str = ""
    prefix: str = ""
    sqlite_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        # Never print or journal the password.
        return {"type": self.type, "name": self.name, "server": self.server, "user": self.user,
                "prefix": self.prefix, "sqlite_dir": self.sqlite_dir}


@dataclass(frozen=True, kw_only=True)
class InstalledExtension:
    name: str
    kind: str  # extension | skin
    loaded: bool
    version: str | None
    requires_mediawiki: str | None
    path: str  # relative to the tree ("extensions/Foo") or absolute when outside it

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "loaded": self.loaded, "version": self.version,
                "requires_mediawiki": self.requires_mediawiki, "path": self.path}


@dataclass(frozen=True, kw_only=True)
class Installation:
    wiki: Path  # the path the admin gave (may be a symlink)
    tree: Path  # the real directory
    layout: str  # "symlink" | "directory"
    core_version: str
    php_version: str
    db: Database
    server_url: str  # $wgServer + $wgScriptPath
    upload_dir: str
    sitename: str
    extensions: tuple[InstalledExtension, ...]
    installed_manifest: Manifest | None
    local_changes: tuple[str, ...]
    read_only: str | None
    method: str  # "php" | "regex"
    warnings: tuple[str, ...] = ()

    @property
    def core_line(self) -> str:
        return line_of(self.core_version)

    @property
    def loaded(self) -> list[InstalledExtension]:
        return [e for e in self.extensions if e.loaded]

    def to_json(self) -> dict[str, Any]:
        return {"wiki": str(self.wiki), "tree": str(self.tree), "layout": self.layout,
                "core_version": self.core_version, "php_version": self.php_version, "database": self.db.to_json(),
                "url": self.server_url, "upload_dir": self.upload_dir, "sitename": self.sitename,
                "extensions": [e.to_json() for e in self.extensions],
                "installed_release": self.installed_manifest.name if self.installed_manifest else None,
                "local_changes": list(self.local_changes), "read_only": self.read_only, "inspected_with": self.method,
                "warnings": list(self.warnings)}


def require_wiki(wiki: Path) -> None:
    """ConfigError (exit 3, the same for every admin command) unless ``wiki`` is an installed MediaWiki."""
    if not wiki.exists():
        raise ConfigError(f"{wiki} does not exist; it is not a wiki.",
                          hint="Pass --wiki with the directory that holds LocalSettings.php.")
    if not (wiki.resolve() / "LocalSettings.php").is_file():
        raise ConfigError(f"{wiki} has no LocalSettings.php; it is not an installed MediaWiki.",
                          hint="Pass --wiki with the directory that holds LocalSettings.php and index.php.")


def inspect_wiki(wiki: Path, *, php: str = "php", check_local_changes: bool = True) -> Installation:
    require_wiki(wiki)
    tree = wiki.resolve()
    warnings: list[str] = []
    facts: dict[str, Any] | None = None
    try:
        facts = eval_settings(tree, php=php)
        method = "php"
    except ConfigError as exc:
        warnings.append(f"could not run PHP on LocalSettings.php ({exc.message}); read it with regular expressions "
                        "instead, which misses computed settings")
    if facts is None:
        facts = regex_settings(tree)
        method = "regex"
    version = str(facts.get("version") or core_version_of(tree))
    exts = _extensions(tree, facts)
    manifest = None
    mpath = tree / INSTALLED_MANIFEST
    if mpath.is_file():
        manifest = Manifest.load(mpath)
    changes: list[str] = []
    if manifest is not None and check_local_changes:
        changes = _local_changes(tree, manifest, exts)
    sqlite_dir = str(facts.get("sqlitedir") or "")
    db = Database(type=str(facts.get("dbtype") or "sqlite"), name=str(facts.get("dbname") or ""),
                  server=str(facts.get("dbserver") or ""), user=str(facts.get("dbuser") or ""),
                  password=str(facts.get("dbpassword") or ""), port=str(facts.get("dbport") or ""),
                  prefix=str(facts.get("dbprefix") or ""), sqlite_dir=sqlite_dir)
    server = str(facts.get("server") or "")
    if server.startswith("//"):
        server = "http:" + server
    ro = facts.get("readonly")
    return Installation(
        wiki=wiki, tree=tree, layout="symlink" if wiki.is_symlink() else "directory", core_version=version,
        php_version=str(facts.get("php") or php_version(php)), db=db,
        server_url=server + str(facts.get("scriptpath") or ""), upload_dir=str(facts.get("uploaddir") or tree / "images"),
        sitename=str(facts.get("sitename") or ""), extensions=tuple(exts), installed_manifest=manifest,
        local_changes=tuple(changes), read_only=str(ro) if ro else None, method=method, warnings=tuple(warnings))


def _local_changes(tree: Path, manifest: Manifest, exts: list[InstalledExtension] | tuple[InstalledExtension, ...]) -> list[str]:
    """Every file that differs from the release, as `mwrelease verify` lists it ("changed: includes/Defines.php")."""
    return wiki_diff(tree, manifest).lines()


def adopt_release_manifest(inst: Installation, manifest: Manifest) -> Installation:
    """A wiki unpacked by hand has no installed manifest: compare its tree with ``manifest`` (the channel's
    manifest of the installed version). When it is exactly that release, take the manifest as installed (a
    delta artifact can then be used); otherwise report the differences as local changes."""
    if inst.installed_manifest is not None or manifest.kind != "full" or manifest.core_version != inst.core_version:
        return inst
    changes = _local_changes(inst.tree, manifest, inst.extensions)
    if changes:
        return replace(inst, local_changes=tuple(changes))
    return replace(inst, installed_manifest=manifest, local_changes=())


def eval_settings(tree: Path, *, php: str = "php", timeout: float = 120) -> dict[str, Any]:
    if shutil.which(php) is None:
        raise ConfigError(f"PHP ({php}) is not on PATH.")
    script = tree / "maintenance" / "eval.php"
    if not script.is_file():
        raise ConfigError(f"{script} is missing.")
    try:
        res = subprocess.run([php, str(script)], input=_EVAL, capture_output=True, text=True, errors="replace",
                             timeout=timeout, cwd=tree, env={**os.environ, "MW_INSTALL_PATH": str(tree)})
    except subprocess.TimeoutExpired:
        raise ConfigError(f"maintenance/eval.php did not answer within {timeout:.0f} s.") from None
    m = re.search(re.escape(_MARK) + r"(.*?)" + re.escape(_MARK), res.stdout, re.S)
    if not m:
        tail = (res.stdout + res.stderr).strip().splitlines()[-5:]
        raise ConfigError(f"maintenance/eval.php failed (exit {res.returncode}): {' | '.join(tail)}")
    try:
        data = json.loads(m.group(1))
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"maintenance/eval.php printed settings that are not JSON ({str(exc)[:200]}).") from None
    if not isinstance(data, dict):
        raise ConfigError("maintenance/eval.php printed settings that are not a JSON object.")
    return data


def php_version(php: str = "php") -> str:
    try:
        return subprocess.run([php, "-r", "echo PHP_VERSION;"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


_ASSIGN = re.compile(r"""^\s*\$(wg\w+)\s*=\s*(['"])(.*?)\2\s*;""", re.M)
_LOAD = re.compile(r"""^\s*(wfLoadExtensions?|wfLoadSkins?)\s*\(\s*(.*?)\)\s*;""", re.M | re.S)
_NAME = re.compile(r"""['"]([^'"]+)['"]""")


def regex_settings(tree: Path) -> dict[str, Any]:
    """Best-effort reading of LocalSettings.php without running it (commented-out lines are skipped)."""
    text = (tree / "LocalSettings.php").read_text(errors="replace")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(("#", "//")))
    vals = {m.group(1): m.group(3) for m in _ASSIGN.finditer(text)}
    ip = str(tree)
    things: dict[str, dict[str, Any]] = {}
    for m in _LOAD.finditer(text):
        kind = "skin" if "Skin" in m.group(1) else "extension"
        for name in _NAME.findall(m.group(2)):
            things[name] = {"type": kind}
    def sub_ip(v: str) -> str:
        return v.replace("$IP", ip).replace("{$IP}", ip)
    return {"version": None, "dbtype": vals.get("wgDBtype", "sqlite"), "dbname": vals.get("wgDBname", ""),
            "dbserver": vals.get("wgDBserver", ""), "dbuser": vals.get("wgDBuser", ""),
            "dbpassword": vals.get("wgDBpassword", ""), "dbprefix": vals.get("wgDBprefix", ""),
            "sqlitedir": sub_ip(vals.get("wgSQLiteDataDir", "")), "server": vals.get("wgServer", ""),
            "scriptpath": vals.get("wgScriptPath", ""), "uploaddir": sub_ip(vals.get("wgUploadDirectory", "")) or None,
            "sitename": vals.get("wgSitename", ""), "things": things}


def _extensions(tree: Path, facts: dict[str, Any]) -> list[InstalledExtension]:
    raw = facts.get("things") or {}
    # Not a dict: json_encode of an empty PHP array ([]), or settings that are not what MediaWiki makes.
    loaded: dict[str, dict[str, Any]] = {str(k): v for k, v in raw.items() if isinstance(v, dict)} \
        if isinstance(raw, dict) else {}
    out: dict[tuple[str, str], InstalledExtension] = {}
    for c in components(tree):
        info = c.meta
        requires = info.get("requires") if isinstance(info.get("requires"), dict) else {}
        out[(c.kind, c.name)] = InstalledExtension(
            name=c.name, kind=c.kind, loaded=loaded.get(c.name) is not None,
            version=str(info["version"]) if info.get("version") else None,
            requires_mediawiki=(requires or {}).get("MediaWiki"), path=c.path)
    for name, thing in loaded.items():
        kind = "skin" if str(thing.get("type", "")).lower() == "skin" else "extension"
        if (kind, name) not in out:
            path = str(thing.get("path") or "")
            out[(kind, name)] = InstalledExtension(name=name, kind=kind, loaded=True,
                                                   version=_opt_str(thing.get("version")), requires_mediawiki=None,
                                                   path=path)
    return sorted(out.values(), key=lambda e: (e.kind, e.name))


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
