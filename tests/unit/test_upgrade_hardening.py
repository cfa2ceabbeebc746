"""Issue 12, the admin's side: each attack that worked on the old main, reproduced, and now harmless.

State outside the web root and private; the state trusted only when it is the admin's own; one run per wiki;
rollback's health check decides its exit code. (Paths and sizes before bytes: test_fsutil_hardening.py;
bounded network reads: test_channel_bounds.py; no tracebacks: test_upgrade_fuzz.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mwrelease.errors import EXIT_CODES, ConfigError, UpgradeError, WikiLocked
from mwrelease.upgrade import rollback as rollback_mod
from mwrelease.upgrade.execute import Options, upgrade
from mwrelease.upgrade.health import Health
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.journal import JOURNAL_FORMAT, Journal
from mwrelease.upgrade.prune import prune
from mwrelease.upgrade.rollback import rollback
from mwrelease.upgrade.statedir import (default_state_dir, legacy_state_dir, open_state, state_dir_for, wiki_id,
                                        wiki_lock)
from mwrelease.upgrade.undo import recover
from tests.unit.helpers import installed_wiki

needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")
NOBODY = 65534


def say(msg: str) -> None:
    print(msg)


@pytest.fixture
def wiki(tmp_path: Path, channel: Path) -> Path:
    return installed_wiki(tmp_path / "www", channel, "1.39.1", ("Main Page",), "")


def opts(wiki: Path, channel: Path, **kw: object) -> Options:
    return Options(wiki=wiki, channel=str(channel), line="1.43", skip_http=True, allow_unsigned=True, **kw)  # type: ignore[arg-type]


# --- where state lives -------------------------------------------------------------------------

def test_default_state_dir_is_outside_the_wiki_parent_and_names_the_wiki(tmp_path: Path,
                                                                         private_state_home: Path) -> None:
    w = tmp_path / "www" / "wiki"
    d = default_state_dir(w)
    assert d.parent == private_state_home and not str(d).startswith(str(w.parent))
    assert "www-wiki-" in wiki_id(w) and wiki_id(w) != wiki_id(tmp_path / "www2" / "wiki")


def test_root_and_users_get_their_own_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mwrelease.upgrade import statedir

    monkeypatch.delenv("MWRELEASE_STATE_HOME")
    monkeypatch.setattr(statedir.os, "geteuid", lambda: 0)
    assert str(default_state_dir(tmp_path / "w")).startswith("/var/lib/mwrelease/")
    monkeypatch.setattr(statedir.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir(tmp_path / "w").parent == tmp_path / "xdg" / "mwrelease"


def test_state_dir_is_created_private(tmp_path: Path) -> None:
    s = open_state(tmp_path / "www" / "wiki", None)
    assert s.is_dir() and (s.stat().st_mode & 0o777) == 0o700


def test_legacy_state_beside_the_wiki_is_moved_and_its_history_rewritten(tmp_path: Path) -> None:
    w = tmp_path / "www" / "wiki"
    w.mkdir(parents=True)
    legacy = legacy_state_dir(w)
    (legacy / "backups" / "u1").mkdir(parents=True)
    (legacy / "backups" / "u1" / "backup.json").write_text("{}")
    (legacy / "history.json").write_text(json.dumps({"format": "mwrelease.history/1", "entries": [
        {"id": "u1", "paths": {"backup": str(legacy / "backups" / "u1"), "aside": str(w) + ".mwrelease-old-1"}}]}))
    os.chmod(legacy / "history.json", 0o600)
    notes: list[str] = []
    s = open_state(w, None, say=notes.append)
    assert s == default_state_dir(w) and not legacy.exists() and (s / "backups" / "u1" / "backup.json").is_file()
    paths = json.loads((s / "history.json").read_text())["entries"][0]["paths"]
    assert paths == {"backup": str(s / "backups" / "u1"), "aside": str(w) + ".mwrelease-old-1"}
    assert any("moved" in n for n in notes) and state_dir_for(w) == s


def test_legacy_state_with_an_interrupted_upgrade_is_used_in_place_privately(tmp_path: Path) -> None:
    w = tmp_path / "www" / "wiki"
    w.mkdir(parents=True)
    legacy = legacy_state_dir(w)
    legacy.mkdir(mode=0o755)
    (legacy / "journal.json").write_text("{}")
    os.chmod(legacy / "journal.json", 0o600)
    notes: list[str] = []
    assert open_state(w, None, say=notes.append) == legacy
    assert (legacy.stat().st_mode & 0o777) == 0o700 and any("warning" in n for n in notes)


# --- distrust the state ------------------------------------------------------------------------

def _planted_journal(state: Path, wiki: Path, victim: Path, marker: Path) -> None:
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {"format": JOURNAL_FORMAT, "id": "20260101T000000Z-1.39.1-to-1.43.1", "pid": 999999999, "host": "x",
            "wiki": str(wiki), "layout": "directory", "from": "1.39.1", "to": "1.43.1", "state": "running",
            "paths": {"new_tree": str(victim)}, "steps": [{"name": "readonly", "status": "started"}],
            "reload_command": f"touch {marker}"}
    (state / "journal.json").write_text(json.dumps(data))
    os.chmod(state / "journal.json", 0o600)


def test_journal_written_by_another_user_is_refused(tmp_path: Path) -> None:
    w = installed_wiki_stub(tmp_path)
    victim, marker = tmp_path / "victim", tmp_path / "pwned"
    victim.mkdir()
    state = default_state_dir(w)
    _planted_journal(state, w, victim, marker)
    os.chown(state / "journal.json", NOBODY, NOBODY)  # what www-data could plant
    with pytest.raises(ConfigError) as exc:
        rollback(w, state_dir=None, say=say, skip_http=True)
    assert exc.value.exit_code == 3 and "does not trust" in exc.value.message
    assert victim.is_dir() and not marker.exists()


@pytest.mark.parametrize("how", ["group-writable dir", "other owner dir", "symlinked dir"])
def test_state_dir_others_could_write_is_refused(tmp_path: Path, how: str) -> None:
    w = installed_wiki_stub(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    given = state
    if how == "group-writable dir":
        os.chmod(state, 0o770)
    elif how == "other owner dir":
        os.chown(state, NOBODY, NOBODY)
    else:
        given = tmp_path / "link"
        given.symlink_to(state)
    with pytest.raises(ConfigError, match="does not trust"):
        prune(w, state_dir=given)


def test_journal_commands_are_never_run_and_foreign_paths_never_removed(tmp_path: Path) -> None:
    w = installed_wiki_stub(tmp_path)
    victim, marker = tmp_path / "victim", tmp_path / "pwned"
    victim.mkdir()
    (victim / "precious").write_text("x")
    state = open_state(w, None)
    _planted_journal(state, w, victim, marker)
    out = recover(w, state, say, reload_command=None)
    assert out is not None and out["action"] == "rolled back"
    assert (victim / "precious").exists() and not marker.exists()


def installed_wiki_stub(tmp_path: Path) -> Path:
    w = tmp_path / "www" / "wiki"
    (w / "includes").mkdir(parents=True)
    (w / "LocalSettings.php").write_text("<?php\n")
    return w


# --- one run per wiki --------------------------------------------------------------------------

def _hold_lock(state: Path) -> subprocess.Popen[bytes]:
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'%d' % os.getpid()); print('held', flush=True); "
            "time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, str(state / "lock")], stdout=subprocess.PIPE)
    assert p.stdout is not None and p.stdout.readline().strip() == b"held"
    return p


def test_second_run_on_the_same_wiki_exits_12_and_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    w = installed_wiki_stub(tmp_path)
    state = open_state(w, None)
    holder = _hold_lock(state)
    try:
        for run in (lambda: prune(w), lambda: rollback(w, state_dir=None, say=say, skip_http=True),
                    lambda: upgrade(opts(w, tmp_path / "nochannel"), say=say, confirm=lambda p: True)):
            with pytest.raises(WikiLocked) as exc:
                run()
            assert exc.value.exit_code == 12 and str(holder.pid) in exc.value.message
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with wiki_lock(state, w):  # the kernel released it with the process
        pass
    assert 12 in EXIT_CODES


@needs_php
def test_two_upgrades_at_once_only_one_runs(wiki: Path, channel: Path) -> None:
    state = open_state(wiki, None)
    holder = _hold_lock(state)
    try:
        r = subprocess.run([sys.executable, "-m", "mwrelease", "upgrade", "--wiki", str(wiki), "--channel",
                            str(channel), "--line", "1.43", "--yes", "--no-http-check"],
                           capture_output=True, text=True, timeout=300)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert r.returncode == 12, r.stderr
    assert "Traceback" not in r.stderr and "holds" in r.stderr
    assert inspect_wiki(wiki).core_version == "1.39.1"


@needs_php
def test_rollback_exits_non_zero_when_its_health_check_fails(wiki: Path, channel: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    monkeypatch.setattr(rollback_mod, "check_health", lambda *a, **k: Health(
        ok=False, version="1.43.1", extensions=[], problems=["Special:Version says 1.43.1"]))
    with pytest.raises(UpgradeError) as exc:
        rollback(wiki, state_dir=None, say=say, skip_http=True)
    assert exc.value.exit_code != 0 and "health check" in exc.value.message
    assert exc.value.details == ["Special:Version says 1.43.1"]
    assert Journal.load(open_state(wiki, None)) is None  # the rollback itself is filed in the history


@needs_php
def test_a_disk_filling_up_while_unpacking_says_disk_full(wiki: Path, channel: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import tarfile

    real = tarfile.TarFile.extract
    calls = [0]

    def extract(self: tarfile.TarFile, *a: object, **k: object) -> None:
        calls[0] += 1
        if calls[0] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(tarfile.TarFile, "extract", extract)
    with pytest.raises(UpgradeError) as exc:
        upgrade(opts(wiki, channel), say=say, confirm=lambda p: True)
    assert "disk filled up" in exc.value.message and "damaged" not in exc.value.message
    assert inspect_wiki(wiki).core_version == "1.39.1"
    assert not [p for p in wiki.parent.iterdir() if "mwrelease-new" in p.name]
