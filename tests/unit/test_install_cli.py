"""`mwrelease install` through the real entry point on the stand-in release (its install.php writes
LocalSettings.php and a SQLite database like the real one), then `verify` and `upgrade` from that baseline."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.install import InstallOptions, install_args
from mwrelease.upgrade.statedir import state_dir_for

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"

needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=300,
                          stdin=subprocess.DEVNULL)


@needs_php
def test_install_then_verify_then_upgrade(tmp_path: Path, channel: Path) -> None:
    wiki = tmp_path / "www" / "wiki"
    base = ("install", "--channel", str(channel), "--allow-unsigned", "--line", "1.39", "--path", str(wiki), "--db", "sqlite",
            "--server", "http://127.0.0.1:8080", "--admin", "Admin")
    r = cli(*base)  # no password anywhere, no terminal to prompt on
    assert r.returncode == 3 and "MWRELEASE_ADMIN_PASSWORD" in r.stderr and not wiki.exists()
    r = cli(*base, "--json", env={"MWRELEASE_ADMIN_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    assert data["version"] == "1.39.1" and PASSWORD not in r.stdout + r.stderr
    inst = inspect_wiki(wiki)
    assert inst.core_version == "1.39.1" and inst.installed_manifest is not None and inst.local_changes == ()
    assert [e.name for e in inst.loaded] == ["Cite"]
    db = sqlite3.connect(Path(data["data_dir"]) / "my_wiki.sqlite")
    assert db.execute("SELECT user_name FROM user").fetchall() == [("Admin",)]
    db.close()
    assert not [p for p in state_dir_for(wiki).iterdir() if p.name.startswith("install-")]  # no password file left
    r = cli("verify", "--wiki", str(wiki))  # the baseline is recorded: no --channel needed
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(*base, env={"MWRELEASE_ADMIN_PASSWORD": PASSWORD})
    assert r.returncode == 3 and "not an empty directory" in r.stderr  # never over an existing wiki
    r = cli("upgrade", "--wiki", str(wiki), "--channel", str(channel), "--allow-unsigned", "--line", "1.43", "--yes", "--no-http-check",
            "--json")
    assert r.returncode == 0, r.stderr
    assert inspect_wiki(wiki).core_version == "1.43.1"
    assert cli("verify", "--wiki", str(wiki)).returncode == 0


@needs_php
def test_failed_install_php_leaves_nothing(tmp_path: Path, channel: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    wiki = tmp_path / "wiki"
    r = cli("install", "--channel", str(channel), "--allow-unsigned", "--path", str(wiki), "--db", "sqlite", "--server",
            "http://127.0.0.1/w", "--admin", "Admin", "--admin-password-file", str(pw))
    assert r.returncode == 9 and "at least 10 characters" in r.stderr, r.stderr
    assert not wiki.exists() and not (tmp_path / "wiki-data").exists()


def test_install_php_arguments_carry_no_secret(tmp_path: Path) -> None:
    o = InstallOptions(channel="c", path=tmp_path / "w", db="mariadb", server="https://example.org/w", admin="A",
                       admin_password="s3cret-pass", db_user="wiki", db_password="db-s3cret")
    args = install_args(o, tmp_path / "w", tmp_path / "d", tmp_path / "p", tmp_path / "dp")
    assert not [a for a in args if "s3cret" in a]
    assert "--server=https://example.org" in args and "--scriptpath=/w" in args and "--dbtype=mysql" in args
    assert f"--dbpassfile={tmp_path / 'dp'}" in args and args[-2:] == ["My wiki", "A"]
