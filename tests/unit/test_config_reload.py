"""The reload command from a config file the admin owns (issue 12, "distrust the state": the journal records facts,
never commands; the command comes from the command line or the admin's own config).

A per-wiki [wikis."<path>"] entry wins over the top-level one, the command line over both; upgrade, rollback and
the undo of a failed upgrade run it. A file another user could have written is refused (exit 3), and its command
never runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mwrelease.config import load_defaults, reload_command_for
from mwrelease.errors import ConfigError
from mwrelease.upgrade.inspect import inspect_wiki
from tests.unit.helpers import installed_wiki

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _config(home: Path, text: str, mode: int = 0o644) -> Path:
    f = home / "mwrelease" / "config.toml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    os.chmod(f, mode)
    return f


def test_the_wikis_own_entry_wins_over_the_general_one_and_later_files_win(tmp_path: Path) -> None:
    (tmp_path / "www" / "wiki").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "www")  # the same wiki through a symlinked parent
    system = _config(tmp_path / "etc", 'reload_command = "from-etc"\n')
    user = _config(tmp_path / "user", f'[wikis."{tmp_path}/link/wiki"]\nreload_command = "for-this-wiki"\n'
                                      '[wikis."/elsewhere/wiki"]\nreload_command = "for-another"\n')
    assert reload_command_for(tmp_path / "www" / "wiki", [system, user]) == "for-this-wiki"
    assert reload_command_for(tmp_path / "www" / "other", [system, user]) == "from-etc"
    assert reload_command_for(tmp_path / "www" / "other", [user]) is None
    late = _config(tmp_path / "late", 'reload_command = "later"\n')
    assert reload_command_for(tmp_path / "www" / "other", [system, late]) == "later"
    # Not a click default: `wiki = ...` and the reload keys live side by side in one file.
    assert load_defaults([system, user]) == {}
    bad = _config(tmp_path / "bad", '[wikis."/w"]\nreload_comand = "typo"\n')
    with pytest.raises(ConfigError, match="takes only reload_command"):
        load_defaults([bad])


@pytest.mark.parametrize("how", ["group-writable", "other-writable", "another user's", "through a symlink"])
def test_a_config_file_another_user_could_write_is_refused(tmp_path: Path, how: str) -> None:
    wiki = tmp_path / "www" / "wiki"
    f = _config(tmp_path / "real", 'reload_command = "touch /tmp/pwned"\n',
                {"group-writable": 0o664, "other-writable": 0o646}.get(how, 0o644))
    if how == "another user's":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file to nobody")
        os.chown(f, NOBODY, NOBODY)
    if how == "through a symlink":
        (tmp_path / "linked").symlink_to(tmp_path / "real")
        f = tmp_path / "linked" / "mwrelease" / "config.toml"
    with pytest.raises(ConfigError) as exc:
        reload_command_for(wiki, [f])
    assert exc.value.exit_code == 3 and "does not run a command from it" in exc.value.message
    assert str(f) in exc.value.message
    # Without a reload command in it, such a file still gives its plain defaults (catalog users' files).
    f.write_text('channel = "https://x/"\n')
    assert reload_command_for(wiki, [f]) is None and load_defaults([f]) == {"channel": "https://x/"}


# --- through the command line, on the stand-in wiki -----------------------------------------------------------

pytest_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(home)}, timeout=300,
                          stdin=subprocess.DEVNULL)


def _version_cmd(wiki: Path, marker: Path, then: str = "true") -> str:
    """Appends the version the wiki serves to ``marker``, then runs ``then``."""
    return (f"grep -o \\\"'1[.0-9]*'\\\" {wiki}/includes/Defines.php | tr -d \\\"\\\\n\\\" >> {marker}; "
            f"echo >> {marker}; {then}")


@pytest_php
def test_upgrade_rollback_and_the_undo_run_the_configs_command_and_the_command_line_wins(
        tmp_path: Path, channel: Path) -> None:
    wiki = installed_wiki(tmp_path / "www", channel, "1.39.1", ("Main Page",), "")
    marker, home = tmp_path / "reloads", tmp_path / "xdg"
    up = ("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes",
          "--no-http-check")
    # The undo: the command fails once the new tree serves, the upgrade is undone, and the undo reloads again.
    _config(home, f'reload_command = "never"\n[wikis."{wiki}"]\nreload_command = '
                  f'"{_version_cmd(wiki, marker, then=f"grep -q 1.39.1 {wiki}/includes/Defines.php")}"\n')
    r = _cli(*up, home=home)
    assert r.returncode == 9, r.stderr
    assert marker.read_text().splitlines() == ["'1.39.1'", "'1.43.1'", "'1.39.1'"]
    assert inspect_wiki(wiki).core_version == "1.39.1"
    marker.unlink()
    _config(home, f'[wikis."{wiki}"]\nreload_command = "{_version_cmd(wiki, marker)}"\n')
    r = _cli(*up, home=home)
    assert r.returncode == 0, r.stderr
    assert marker.read_text().splitlines() == ["'1.39.1'", "'1.43.1'"]
    marker.unlink()
    given = tmp_path / "given"
    r = _cli("rollback", "--wiki", str(wiki), "--yes", "--no-http-check", "--reload-command", f"touch {given}",
             home=home)
    assert r.returncode == 0, r.stderr
    assert given.exists() and not marker.exists()  # the command line won
    assert _cli(*up, home=home).returncode == 0
    marker.unlink()
    r = _cli("rollback", "--wiki", str(wiki), "--yes", "--no-http-check", home=home)
    assert r.returncode == 0, r.stderr
    assert marker.read_text().splitlines() == ["'1.43.1'", "'1.39.1'"]


@pytest_php
def test_a_planted_config_stops_the_rollback_before_anything_changes(tmp_path: Path, channel: Path) -> None:
    wiki = installed_wiki(tmp_path / "www", channel, "1.39.1", ("Main Page",), "")
    home, pwned = tmp_path / "xdg", tmp_path / "pwned"
    up = ("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--line", "1.43", "--yes",
          "--no-http-check")
    assert _cli(*up, home=home).returncode == 0
    _config(home, f'reload_command = "touch {pwned}"\n', 0o666)
    r = _cli("rollback", "--wiki", str(wiki), "--yes", "--no-http-check", home=home)
    assert r.returncode == 3 and "does not run a command from it" in r.stderr, r.stderr
    assert not pwned.exists() and inspect_wiki(wiki).core_version == "1.43.1"
