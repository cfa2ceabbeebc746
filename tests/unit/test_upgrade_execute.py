"""`mwrelease upgrade`, `rollback` and `status` on a stand-in wiki (no Docker, no real MediaWiki).

The stand-in (tests/fixtures/upgrade/fakemw) runs LocalSettings.php with PHP like MediaWiki does and has
an update.php that changes the SQLite database, so every step, failure and recovery path of the
journaled upgrade runs for real; the same scenarios with real MediaWiki are in
tests/integration/test_upgrade_e2e.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mwrelease.errors import EXIT_CODES, ConfigError, IntegrityError, NothingToDo, UpgradeCancelled, UpgradeError
from mwrelease.release.build import build_release
from mwrelease.release.channel import publish
from mwrelease.upgrade.execute import Options, upgrade
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.rollback import rollback
from mwrelease.upgrade.settings import READONLY_MARK
from mwrelease.upgrade.statedir import state_dir_for
from mwrelease.upgrade.status import status
from tests.unit.helpers import fake_core, fake_lock, installed_wiki

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


@pytest.fixture
def wiki(tmp_path: Path, channel: Path) -> Path:
    w = installed_wiki(tmp_path / "www", channel, "1.39.1", ("Main Page", "Second"),
                       "wfLoadExtension( 'Cite' );\nwfLoadExtension( 'MyExt' );\n")
    (w / "images" / "a" / "ab").mkdir(parents=True)
    (w / "images" / "a" / "ab" / "Pic.png").write_bytes(b"\x89PNG fake")
    (w / "extensions" / "MyExt").mkdir()
    (w / "extensions" / "MyExt" / "extension.json").write_text(
        json.dumps({"name": "MyExt", "version": "0.3", "requires": {"MediaWiki": ">= 1.39.0"}}))
    return w


def opts(wiki: Path, channel: Path, **kw: object) -> Options:
    return Options(wiki=wiki, channel=str(channel), line="1.43", skip_http=True, allow_unsigned=True, **kw)  # type: ignore[arg-type]


def pages(wiki: Path) -> list[str]:
    db = sqlite3.connect(wiki.parent / "data" / "wiki.sqlite")
    try:
        return sorted(r[0] for r in db.execute("SELECT title FROM page"))
    finally:
        db.close()


def schema(wiki: Path) -> list[str]:
    db = sqlite3.connect(wiki.parent / "data" / "wiki.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT version FROM fake_schema")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def assert_old_and_intact(wiki: Path) -> None:
    assert inspect_wiki(wiki).core_version == "1.39.1"
    assert (wiki / "includes" / "Only1391.php").exists()
    assert pages(wiki) == ["Main Page", "Second"]
    assert schema(wiki) == []  # the database is as it was before update.php
    assert READONLY_MARK not in (wiki / "LocalSettings.php").read_text()
    assert not (wiki / "mwrelease-readonly.php").exists()
    assert (wiki / "images" / "a" / "ab" / "Pic.png").read_bytes() == b"\x89PNG fake"
    assert not [p for p in wiki.parent.iterdir() if "mwrelease-new" in p.name]
    assert not (state_dir_for(wiki) / "journal.json").exists()


def say(msg: str) -> None:
    print(msg)


def test_upgrade_then_rollback(wiki: Path, channel: Path) -> None:
    out = upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    assert out.done and out.plan.target == "1.43.1"
    inst = inspect_wiki(wiki)
    assert inst.core_version == "1.43.1" and inst.installed_manifest is not None
    assert not (wiki / "includes" / "Only1391.php").exists() and (wiki / "includes" / "Only1431.php").exists()
    assert schema(wiki) == ["1.43.1"] and pages(wiki) == ["Main Page", "Second"]
    assert (wiki / "extensions" / "MyExt" / "extension.json").exists()  # kept extension carried over
    assert (wiki / "images" / "a" / "ab" / "Pic.png").read_bytes() == b"\x89PNG fake"
    assert READONLY_MARK not in (wiki / "LocalSettings.php").read_text()
    assert (wiki.parent / "wiki.mwrelease-old-1.39.1" / "includes" / "Only1391.php").exists()
    assert inst.local_changes == ()
    st = status(wiki, state_dir=None, channel=str(channel), allow_unsigned=True)
    assert st["history"][-1]["state"] == "done" and st["channel"]["update_available"] is False
    with pytest.raises(NothingToDo):
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    rb = rollback(wiki, state_dir=None, say=say, skip_http=True)
    assert rb["version"] == "1.39.1"
    assert_old_and_intact(wiki)


def test_update_failure_restores_everything(wiki: Path, channel: Path) -> None:
    with open(wiki / "LocalSettings.php", "a") as fh:
        fh.write("$wgFakeUpdateFail = true;\n")
    with pytest.raises(UpgradeError) as exc:
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    assert "'update'" in exc.value.message and "restored" in exc.value.message
    assert any("schema update failed" in d for d in exc.value.details)
    assert_old_and_intact(wiki)
    hist = json.loads((state_dir_for(wiki) / "history.json").read_text())["entries"]
    assert hist[-1]["state"] == "rolled-back"


def test_tampered_artifact_changes_nothing(wiki: Path, channel: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-channel"
    shutil.copytree(channel, bad)
    tar = bad / "mediawiki-1.43.1.tar.gz"
    data = bytearray(tar.read_bytes())
    data[len(data) // 2] ^= 0x55
    tar.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="tampered"):
        upgrade(opts(wiki, bad), say=say, confirm=lambda p: True)
    assert_old_and_intact(wiki)


def test_incompatible_extension_stops_before_anything(wiki: Path, channel: Path) -> None:
    (wiki / "extensions" / "MyExt" / "extension.json").write_text(
        json.dumps({"name": "MyExt", "requires": {"MediaWiki": ">= 1.39.0 < 1.40"}}))
    with pytest.raises(ConfigError, match="cannot run on the new core") as exc:
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    assert "MyExt" in exc.value.details[0]
    assert_old_and_intact(wiki)
    upgrade(opts(wiki, channel, disable_incompatible=True), say=say, confirm=lambda p: True)
    text = (wiki / "LocalSettings.php").read_text()
    assert "# wfLoadExtension( 'MyExt' ); # mwrelease:disabled" in text


def test_dry_run_changes_nothing(wiki: Path, channel: Path) -> None:
    out = upgrade(opts(wiki, channel, dry_run=True), say=say, confirm=lambda p: True)
    assert not out.done and [e.fate for e in out.plan.extensions if e.name == "MyExt"] == ["kept"]
    assert_old_and_intact(wiki)
    assert not (state_dir_for(wiki)).exists()


def test_cancelled_at_the_prompt_changes_nothing_and_is_not_a_bug(wiki: Path, channel: Path) -> None:
    with pytest.raises(UpgradeCancelled) as exc:
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: False)
    # Exit 1 means "a bug"; a cancel has its own code, listed by `mwrelease exit-codes`.
    assert exc.value.exit_code not in (0, 1) and "cancelled" in EXIT_CODES[exc.value.exit_code]
    assert_old_and_intact(wiki)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=300)


@pytest.mark.parametrize("step", ["download", "unpack", "readonly", "backup", "stage", "update", "switch",
                                  "switch-between-renames", "health", "live"])
def test_killed_at_each_step_then_next_run_rolls_back(wiki: Path, channel: Path, step: str) -> None:
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes",
             "--no-http-check", env={"MWRELEASE_FAULT_KILL_AT": step})
    assert r.returncode == -9, r.stderr
    assert (state_dir_for(wiki) / "journal.json").exists()
    r = _cli("rollback", "--wiki", str(wiki), "--no-http-check", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"]["action"] == "rolled back an interrupted upgrade"
    assert_old_and_intact(wiki)
    # And the next upgrade goes through.
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes", "--no-http-check")
    assert r.returncode == 0, r.stderr
    assert inspect_wiki(wiki).core_version == "1.43.1"


def test_killed_run_is_recovered_by_next_upgrade(wiki: Path, channel: Path) -> None:
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes",
             "--no-http-check", env={"MWRELEASE_FAULT_KILL_AT": "update"})
    assert r.returncode == -9
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes", "--no-http-check",
             "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    assert data["recovered"]["stopped_at"] == "update"
    assert schema(wiki) == ["1.43.1"]  # only the second run's update.php left its mark


def test_cli_exit_codes(wiki: Path, channel: Path) -> None:
    assert _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", "http://127.0.0.1:9/", "--yes").returncode == 4
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--dry-run", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["data"]["plan"]["target"] == "1.43.1"
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43")
    assert r.returncode == 3 and "--yes" in r.stderr  # no terminal to confirm on
    assert _cli("rollback", "--wiki", str(wiki)).returncode == 10
    assert_old_and_intact(wiki)


def test_reload_command_runs_after_switch_and_after_switch_back(wiki: Path, channel: Path, tmp_path: Path) -> None:
    marker = tmp_path / "reloads"
    cmd = (f"grep -o \"'1[.0-9]*'\" {wiki}/includes/Defines.php | tr -d '\\n' >> {marker}; "
           f"echo \" $MWRELEASE_PHP\" >> {marker}")
    upgrade(opts(wiki, channel, reload_command=cmd), say=say, confirm=lambda p: True)
    # after read-only on (old tree) and after the switch (new tree); read-only off needs none (is_file guard)
    assert marker.read_text().splitlines() == ["'1.39.1' php", "'1.43.1' php"]
    marker.unlink()
    rollback(wiki, state_dir=None, say=say, skip_http=True, reload_command=cmd)
    assert marker.read_text().splitlines() == ["'1.43.1' php", "'1.39.1' php"]


def test_failing_reload_command_rolls_back(wiki: Path, channel: Path) -> None:
    with pytest.raises(UpgradeError, match="'readonly'"):
        upgrade(opts(wiki, channel, reload_command="exit 7"), say=say, confirm=lambda p: True)
    assert_old_and_intact(wiki)


def test_full_disk_is_refused_before_anything(wiki: Path, channel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(UpgradeError, match="Not enough disk space") as exc:
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    assert "MB free" in exc.value.details[0]
    monkeypatch.undo()
    assert_old_and_intact(wiki)


def test_mysql_client_arguments_ignore_wgdbport() -> None:
    from mwrelease.upgrade.backup import _mysql_args
    from mwrelease.upgrade.inspect import Database

    assert _mysql_args(Database(type="mysql", name="w", server="127.0.0.1", user="u", port="5432")) == \
        ["--host=127.0.0.1", "--user=u"]
    assert _mysql_args(Database(type="mysql", name="w", server="db:3307", user="u")) == \
        ["--host=db", "--user=u", "--port=3307"]


@pytest.fixture
def linked_wiki(wiki: Path) -> Path:
    """The symlink layout: /srv/www/wiki -> releases/mediawiki-1.39.1."""
    releases = wiki.parent / "releases"
    releases.mkdir()
    real = releases / "mediawiki-1.39.1"
    wiki.rename(real)
    wiki.symlink_to(real)
    return wiki


def test_symlink_layout_upgrade_and_rollback(linked_wiki: Path, channel: Path) -> None:
    upgrade(opts(linked_wiki, channel), say=say, confirm=lambda p: True)
    assert linked_wiki.is_symlink()
    assert os.readlink(linked_wiki) == str(linked_wiki.parent / "releases" / "mediawiki-1.43.1")
    assert inspect_wiki(linked_wiki).core_version == "1.43.1" and schema(linked_wiki) == ["1.43.1"]
    assert (linked_wiki.parent / "releases" / "mediawiki-1.39.1" / "includes" / "Only1391.php").exists()
    rollback(linked_wiki, state_dir=None, say=say, skip_http=True)
    assert os.readlink(linked_wiki) == str(linked_wiki.parent / "releases" / "mediawiki-1.39.1")
    assert_old_and_intact(linked_wiki)


@pytest.mark.parametrize("step", ["switch", "health"])
def test_symlink_layout_killed_after_switch(linked_wiki: Path, channel: Path, step: str) -> None:
    r = _cli("upgrade", "--allow-unsigned", "--wiki", str(linked_wiki), "--channel", str(channel), "--line", "1.43", "--yes",
             "--no-http-check", env={"MWRELEASE_FAULT_KILL_AT": step})
    assert r.returncode == -9
    r = _cli("rollback", "--wiki", str(linked_wiki), "--no-http-check")
    assert r.returncode == 0, r.stderr
    assert os.readlink(linked_wiki).endswith("mediawiki-1.39.1")
    assert_old_and_intact(linked_wiki)
    assert not (linked_wiki.parent / "releases" / "mediawiki-1.43.1").exists()


def test_chain_through_an_intermediate_lts(tmp_path: Path) -> None:
    """1.35 -> 1.43 runs two stops (1.39, then 1.43), each with its own update.php, in one command."""
    ch = tmp_path / "chain-channel"
    for v in ("1.35.1", "1.39.1", "1.43.1"):
        (full,) = build_release(fake_lock(v), fake_core(tmp_path / f"core-{v}", v), tmp_path / "out")
        publish(full.tarball, ch)
    w = installed_wiki(tmp_path / "www", ch, "1.35.1", ("Main Page",))
    out = upgrade(Options(wiki=w, channel=str(ch), to="1.43.1", skip_http=True, allow_unsigned=True), say=say, confirm=lambda p: True)
    assert out.done and [s.version for s in out.plan.stops] == ["1.39.1", "1.43.1"]
    assert inspect_wiki(w).core_version == "1.43.1"
    assert schema(w) == ["1.39.1", "1.43.1"]  # update.php ran once per stop, in order
    assert pages(w) == ["Main Page"]
    assert not (w / "includes" / "Only1351.php").exists() and (w / "includes" / "Only1431.php").exists()
    # Each rollback undoes the newest upgrade not yet undone: 1.43 -> 1.39 -> 1.35, then nothing is left.
    for version, schema_after in (("1.39.1", ["1.39.1"]), ("1.35.1", [])):
        rollback(w, state_dir=None, say=say, skip_http=True)
        assert inspect_wiki(w).core_version == version and schema(w) == schema_after and pages(w) == ["Main Page"]
    with pytest.raises(NothingToDo):
        rollback(w, state_dir=None, say=say, skip_http=True)


def test_rollback_refuses_when_the_backup_is_gone(wiki: Path, channel: Path) -> None:
    upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    backup = Path(json.loads((state_dir_for(wiki) / "history.json").read_text())["entries"][-1]["paths"]["backup"])
    shutil.rmtree(backup)  # as `mwrelease prune --keep 0` does
    with pytest.raises(UpgradeError, match="database backup .* is gone. Nothing was changed"):
        rollback(wiki, state_dir=None, say=say, skip_http=True)
    assert inspect_wiki(wiki).core_version == "1.43.1"


def test_read_only_ends_when_its_file_goes_even_with_the_line_still_there(wiki: Path) -> None:
    # What a PHP server with opcache.validate_timestamps=0 sees: the old LocalSettings.php, the file gone.
    from mwrelease.upgrade.settings import READONLY_FILE, readonly_off, readonly_on

    readonly_on(wiki, "upgrading")
    assert inspect_wiki(wiki, check_local_changes=False).read_only == "upgrading"
    (wiki / READONLY_FILE).unlink()
    assert not inspect_wiki(wiki, check_local_changes=False).read_only
    readonly_off(wiki)
    assert "mwrelease" not in (wiki / "LocalSettings.php").read_text()
