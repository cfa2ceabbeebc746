"""Small fake inputs shared by several unit test modules (test modules do not import each other)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.release.channel import CHANNEL_FORMAT, ChannelIndex
from mwrelease.release.lines import upgrades_from
from mwrelease.release.manifest import Component, FileEntry, Manifest
from mwrelease.runner.results import CheckResult
from mwrelease.upgrade.inspect import Database, Installation, InstalledExtension
from tests.helpers import FIXTURES

FAKEMW = FIXTURES / "upgrade" / "fakemw"


# --- release building (test_release, test_release_cli, test_channel, test_release_core_tarball) ----------

def make_core(root: Path, version: str, *, outside: Path | None = None, extra: dict[str, str] | None = None) -> Path:
    files = {
        "index.php": "<?php // index\n",
        "api.php": "<?php // api\n",
        "includes/Defines.php": f"<?php\ndefine( 'MW_VERSION', '{version}' );\n",
        "composer.json": json.dumps({"require": {"php": ">=8.1.0"}}),
        "maintenance/update.php": "<?php // update\n",
        "extensions/Cite/extension.json": json.dumps({"name": "Cite", "version": "1.0",
                                                     "requires": {"MediaWiki": f">= {version[:4]}"}}),
        "skins/Vector/skin.json": json.dumps({"name": "Vector"}),
        "vendor/autoload.php": "<?php\n",
    }
    files.update(extra or {})
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / "maintenance/run.sh").write_text("#!/bin/sh\n")
    (root / "maintenance/run.sh").chmod(0o755)
    if outside is not None:
        # Debian layout: vendor library and LocalSettings.php are symlinks out of the tree.
        (outside / "php-lib").mkdir(parents=True)
        (outside / "php-lib/Lib.php").write_text("<?php // lib\n")
        os.symlink(outside / "php-lib", root / "vendor/lib")
        (outside / "LocalSettings.php").write_text("<?php $wgSitename = 'x';\n")
        os.symlink(outside / "LocalSettings.php", root / "LocalSettings.php")
        os.symlink(outside / "nonexistent", root / "images")
    return root


# A bundled Cite as a lock lists it (the release and trust tests build releases with it).
CITE = LockedComponent(name="Cite", kind="extension", ref="REL1_43", ref_type="branch", commit=None, version=None,
                       source=Source(type="bundled"), catalog="test")


def make_lock(version: str, comps: tuple[LockedComponent, ...] = ()) -> Lock:
    return Lock(bundle=f"tarball-{version[:4]}", flavor="tarball", core_version=version, core_line=version[:4],
                php=("8.2",), databases=("sqlite",), components=comps)


# --- seals and reports (test_seal, test_report) -----------------------------------------------------------

def make_seal_lock(dbs: tuple[str, ...] = ("sqlite",)) -> Lock:
    comps = tuple(LockedComponent(name=n, kind="extension", ref="REL1_43", ref_type="bundled", commit=None,
                                  version=None, source=Source(type="bundled"), catalog="t",
                                  requires={"MediaWiki": ">= 1.39"}) for n in ("Cite", "Poem"))
    return Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=dbs,
                components=comps)


def ok_checks() -> list[CheckResult]:
    return [CheckResult(name="update.php", status="passed"), CheckResult(name="siteinfo:Cite", status="passed",
                                                                         component="Cite"),
            CheckResult(name="siteinfo:Poem", status="passed", component="Poem"),
            CheckResult(name="php-errors", status="passed")]


# --- upgrade planning on hand-written channels and installations (test_upgrade_plan, test_upgrade_delta_choice)

def release(version: str, *, delta_from: str | None = None, php: str = ">= 8.1.0") -> dict[str, Any]:
    line = version.rsplit(".", 1)[0]
    arts: list[dict[str, Any]] = [{"kind": "full", "file": f"mediawiki-{version}.tar.gz", "sha256": "a" * 64, "size": 1}]
    if delta_from:
        arts.append({"kind": "delta", "from": delta_from, "file": f"mediawiki-{version}-from-{delta_from}.delta.tar.gz",
                     "sha256": "b" * 64, "size": 1, "manifest": {"file": "d.json", "sha256": "c" * 64}})
    return {"version": version, "php": php, "databases": ["sqlite"], "upgrades_from": upgrades_from(line),
            "manifest": {"file": f"mediawiki-{version}.manifest.json", "sha256": "d" * 64}, "artifacts": arts}


def index(*rels: dict[str, Any]) -> ChannelIndex:
    lines: dict[str, Any] = {}
    for r in rels:
        line = r["version"].rsplit(".", 1)[0]
        lines.setdefault(line, {"line": line, "releases": []})["releases"].append(r)
    return ChannelIndex.from_json({"format": CHANNEL_FORMAT, "lines": lines, "signatures": []}, origin="test")


def manifest(version: str, *comps: Component) -> Manifest:
    return Manifest(name=f"mediawiki-{version}", core_version=version, core_line=version.rsplit(".", 1)[0],
                    files=(FileEntry(path="index.php", sha256="0" * 64),), components=comps)


def ext(name: str, requires: str | None = None, *, loaded: bool = True, version: str | None = "1.0",
        kind: str = "extension") -> InstalledExtension:
    return InstalledExtension(name=name, kind=kind, loaded=loaded, version=version, requires_mediawiki=requires,
                              path=f"extensions/{name}")


def inst(version: str, *exts: InstalledExtension, php: str = "8.2.7", installed: Manifest | None = None,
         changes: tuple[str, ...] = ()) -> Installation:
    return Installation(wiki=Path("/srv/wiki"), tree=Path("/srv/wiki"), layout="directory", core_version=version,
                        php_version=php, db=Database(type="sqlite", name="wiki", sqlite_dir="/srv/data"),
                        server_url="http://127.0.0.1:8080", upload_dir="/srv/wiki/images", sitename="W",
                        extensions=exts, installed_manifest=installed, local_changes=changes, read_only=None,
                        method="php")


CITE43 = Component(name="Cite", kind="extension", ref="REL1_43", version="1.0.0-43")
IDX = index(release("1.35.14"), release("1.39.10"), release("1.39.11", delta_from="1.39.10"),
            release("1.43.4"), release("1.43.5", delta_from="1.43.4"))
MANIFESTS = {v: manifest(v, CITE43) for v in ("1.39.11", "1.43.5", "1.43.4")}


# --- the stand-in wiki of the upgrade tests (test_upgrade_execute, test_upgrade_prune) ---------------------

def fake_core(dest: Path, version: str) -> Path:
    shutil.copytree(FAKEMW, dest)
    (dest / "includes" / "Defines.php").write_text(f"<?php\ndefine( 'MW_VERSION', '{version}' );\n")
    (dest / "composer.json").write_text(json.dumps({"require": {"php": ">=7.4"}}))
    for name in ("Cite", "ParserFunctions"):
        (dest / "extensions" / name).mkdir(parents=True)
        (dest / "extensions" / name / "extension.json").write_text(json.dumps({"name": name, "version": version}))
    (dest / "includes" / f"Only{version.replace('.', '')}.php").write_text("<?php\n")
    return dest


def fake_lock(version: str) -> Lock:
    line = version.rsplit(".", 1)[0]
    return Lock(bundle=f"fake-{line}", flavor="tarball", core_version=version, core_line=line, php=(),
                databases=("sqlite",), components=())


def installed_wiki(www: Path, channel: Path, version: str, pages: tuple[str, ...], extra_settings: str = "") -> Path:
    """A wiki unpacked from the channel's tarball of ``version``, with a SQLite database holding ``pages``."""
    www.mkdir()
    subprocess.run(["tar", "-C", str(www), "-xzf", str(channel / f"mediawiki-{version}.tar.gz")], check=True)
    w = www / "wiki"
    (www / f"mediawiki-{version}").rename(w)
    data = www / "data"
    data.mkdir()
    db = sqlite3.connect(data / "wiki.sqlite")
    db.execute("CREATE TABLE page (title TEXT)")
    db.executemany("INSERT INTO page VALUES (?)", [(p,) for p in pages])
    db.commit()
    db.close()
    (w / "LocalSettings.php").write_text(
        "<?php\n$wgSitename = 'Test';\n$wgDBtype = 'sqlite';\n$wgDBname = 'wiki';\n"
        f"$wgSQLiteDataDir = '{data}';\n{extra_settings}")
    return w
