"""The admin's lifecycle through the real entry point (`python -m mwrelease`) on the stand-in wiki:
verify, local changes refused by upgrade, "nothing to do" and "not a wiki" exit codes, rollback's plan."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.statedir import state_dir_for
from tests.unit.helpers import installed_wiki

REPO = Path(__file__).resolve().parents[2]

needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


@pytest.fixture
def wiki(tmp_path: Path, channel: Path) -> Path:
    w = installed_wiki(tmp_path / "www", channel, "1.39.1", ("Main Page",), "wfLoadExtension( 'Cite' );\n")
    (w / "extensions" / "MyExt").mkdir()
    (w / "extensions" / "MyExt" / "extension.json").write_text(json.dumps({"name": "MyExt"}))
    return w


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300, stdin=subprocess.DEVNULL)


def test_verify_reports_changed_missing_and_added_files(wiki: Path, channel: Path) -> None:
    r = cli("verify", "--wiki", str(wiki))
    assert r.returncode == 3 and "--channel" in r.stderr  # unpacked by hand: which release is unknown
    r = cli("verify", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned", "--json")
    data = json.loads(r.stdout)["data"]
    assert r.returncode == 0 and data["clean"] and data["files_checked"] > 5
    assert data["own_extensions_and_skins"] == ["extensions/MyExt"]  # the admin's own: listed, not checked
    with open(wiki / "includes" / "Defines.php", "a") as fh:
        fh.write("// local patch\n")
    (wiki / "api.php").unlink()
    (wiki / "includes" / "Mine.php").write_text("<?php\n")
    r = cli("verify", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned", "--json")
    data = json.loads(r.stdout)["data"]
    assert r.returncode == 8
    assert (data["changed"], data["missing"], data["added"]) == (["includes/Defines.php"], ["api.php"],
                                                                 ["includes/Mine.php"])
    r = cli("verify", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned")
    assert r.returncode == 8 and "changed: includes/Defines.php" in r.stdout and "missing: api.php" in r.stdout


@needs_php
def test_upgrade_refuses_to_overwrite_local_changes(wiki: Path, channel: Path) -> None:
    with open(wiki / "includes" / "Defines.php", "a") as fh:
        fh.write("// local patch\n")
    up = ("upgrade", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned", "--line", "1.43", "--no-http-check")
    r = cli(*up, "--dry-run")
    assert r.returncode == 0 and "changed: includes/Defines.php" in r.stdout and "--discard-local-changes" in r.stdout
    r = cli(*up, "--yes")
    assert r.returncode == 3 and "includes/Defines.php" in r.stderr and "--discard-local-changes" in r.stderr
    assert inspect_wiki(wiki).core_version == "1.39.1" and not (state_dir_for(wiki) / "history.json").exists()
    r = cli(*up, "--yes", "--discard-local-changes")
    assert r.returncode == 0, r.stderr
    assert inspect_wiki(wiki).core_version == "1.43.1"
    assert "local patch" in (wiki.parent / "wiki.mwrelease-old-1.39.1" / "includes" / "Defines.php").read_text()
    r = cli("verify", "--wiki", str(wiki))  # installed by mwrelease now: its own manifest, no --channel
    assert r.returncode == 0 and "matches the release" in r.stdout, r.stdout + r.stderr


def test_not_a_wiki_is_exit_3_everywhere(tmp_path: Path, channel: Path) -> None:
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        if folder.name == "empty":
            folder.mkdir()
        for args in (("status",), ("rollback", "--yes"), ("prune", "--yes"), ("verify",),
                     ("upgrade", "--channel", str(channel), "--allow-unsigned", "--yes")):
            r = cli(*args, "--wiki", str(folder))
            assert r.returncode == 3, (args, folder, r.stderr)
            assert "not a wiki" in r.stderr or "not an installed MediaWiki" in r.stderr, r.stderr


def _revision_table(wiki: Path, *times: dt.datetime) -> None:
    db = sqlite3.connect(wiki.parent / "data" / "wiki.sqlite")
    db.execute("CREATE TABLE IF NOT EXISTS revision (rev_id INTEGER PRIMARY KEY, rev_timestamp BLOB)")
    db.executemany("INSERT INTO revision (rev_timestamp) VALUES (?)", [(t.strftime("%Y%m%d%H%M%S"),) for t in times])
    db.commit()
    db.close()


@needs_php
def test_nothing_to_do_and_rollback_plan(wiki: Path, channel: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    _revision_table(wiki, now - dt.timedelta(days=3))  # an edit before the upgrade: kept by the backup
    up = ("upgrade", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned", "--line", "1.43", "--no-http-check", "--yes")
    assert cli(*up).returncode == 0
    r = cli(*up)  # already current: success for cron, one clear line
    assert r.returncode == 0 and "already on MediaWiki 1.43.1" in r.stdout, r.stderr
    assert cli(*up, "--exit-code").returncode == 10
    _revision_table(wiki, now + dt.timedelta(seconds=5), now + dt.timedelta(seconds=65))  # two edits after it
    r = cli("rollback", "--wiki", str(wiki), "--dry-run", "--json")
    plan = json.loads(r.stdout)["data"]["plan"]
    assert r.returncode == 0 and (plan["from"], plan["to"], plan["action"]) == ("1.43.1", "1.39.1", "rollback")
    assert plan["lost_edits"]["revisions"] == 2 and plan["backup"] and plan["old_tree"]
    r = cli("rollback", "--wiki", str(wiki), "--dry-run")
    assert "loses: edits since" in r.stdout and "2 revision(s)" in r.stdout
    r = cli("rollback", "--wiki", str(wiki), "--no-http-check")  # no terminal, no --yes: refused
    assert r.returncode == 3 and "--yes" in r.stderr and "2 revision(s)" in r.stderr
    assert inspect_wiki(wiki).core_version == "1.43.1"
    r = cli("rollback", "--wiki", str(wiki), "--no-http-check", "--yes")
    assert r.returncode == 0, r.stderr
    assert inspect_wiki(wiki).core_version == "1.39.1"
    r = cli("rollback", "--wiki", str(wiki), "--dry-run")
    assert r.returncode == 10  # nothing (more) to roll back


def test_unknown_edit_count_says_why(tmp_path: Path) -> None:
    from mwrelease.upgrade.edits import revisions_since
    from mwrelease.upgrade.inspect import Database

    (tmp_path / "w.sqlite").write_bytes(b"")
    e = revisions_since(Database(type="sqlite", name="w", sqlite_dir=str(tmp_path)), "2026-01-01T00:00:00Z")
    assert e.count is None and "revision" in e.reason
    e = revisions_since(Database(type="sqlite", name="nope", sqlite_dir=str(tmp_path)), "2026-01-01T00:00:00Z")
    assert e.count is None and "does not exist" in e.reason
