"""Issue 12, finding 1: after an upgrade, another local user (``nobody``) and a web server serving the wiki's
parent folder read the wiki, but not the backups, the old tree, the state or the installed manifest.

The wiki lives in a world-traversable folder (not pytest's 0700 tmp_path), so only mwrelease's own modes can
keep ``nobody`` out.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwrelease.release.build import build_release
from mwrelease.release.channel import publish
from mwrelease.upgrade.execute import Options, upgrade
from tests.unit.helpers import fake_core, fake_lock, installed_wiki

pytestmark = [
    pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)"),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                       reason="needs root and setpriv to act as user nobody"),
]
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mwr-world-"))
    os.chmod(d, 0o755)
    monkeypatch.setenv("MWRELEASE_STATE_HOME", str(d / "state-home"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _upgraded(world: Path, state_dir: Path | None = None, owner: str | None = None) -> tuple[Path, Path]:
    base = world / "rel"
    ch = base / "channel"
    for v in ("1.39.1", "1.43.1"):
        (full,) = build_release(fake_lock(v), fake_core(base / f"core-{v}", v), base / "out")
        publish(full.tarball, ch)
    wiki = installed_wiki(world / "www", ch, "1.39.1", ("Main Page", "Secret page"), "")
    for d, _, files in os.walk(world):  # a readable wiki, as a web server needs it
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    if owner:  # the web server's user owns the wiki (`chown -R www-data`), as many admins set it up
        subprocess.run(["chown", "-R", f"{owner}:", str(wiki)], check=True)
    out = upgrade(Options(wiki=wiki, channel=str(ch), line="1.43", skip_http=True, state_dir=state_dir,
                          allow_unsigned=True),
                  say=print, confirm=lambda p: True)
    return wiki, Path(out.stops[-1]["backup"])


def _nobody_reads(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AS_NOBODY, "cat", str(path)], capture_output=True, text=True, errors="replace")


def test_nobody_reads_the_wiki_but_not_the_backup_the_old_tree_or_the_manifest(world: Path) -> None:
    wiki, backup = _upgraded(world)
    assert _nobody_reads(wiki / "index.php").returncode == 0  # control: the wiki itself stays readable
    sqlite_copy = backup / "database" / "wiki.sqlite"
    assert sqlite_copy.is_file() and (sqlite_copy.stat().st_mode & 0o777) == 0o600
    assert (backup / "LocalSettings.php").stat().st_mode & 0o777 == 0o600
    for secret in (sqlite_copy, backup / "LocalSettings.php", wiki.parent / "wiki.mwrelease-old-1.39.1" / "index.php",
                   wiki.parent / "wiki.mwrelease-old-1.39.1" / "LocalSettings.php",
                   wiki / ".mwrelease" / "manifest.json"):
        r = _nobody_reads(secret)
        assert r.returncode != 0 and "Permission denied" in r.stderr, secret
    assert not (wiki.parent / ".mwrelease").exists()


def test_old_tree_stays_private_when_the_web_servers_user_owns_the_wiki(world: Path) -> None:
    wiki, _ = _upgraded(world, owner="nobody")
    old = wiki.parent / "wiki.mwrelease-old-1.39.1"
    assert old.stat().st_uid == 0 and old.stat().st_mode & 0o777 == 0o700  # parked: root's, 0700
    for secret in (old / "index.php", old / "LocalSettings.php"):
        assert (secret.stat().st_uid != 0), "the files inside stay nobody's; only the top folder is closed"
        r = _nobody_reads(secret)
        assert r.returncode != 0 and "Permission denied" in r.stderr, secret
    assert _nobody_reads(wiki / "index.php").returncode == 0  # control
    assert wiki.stat().st_uid == pwd.getpwnam("nobody").pw_uid  # the tree switched in took the serving owner


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_web_server_serving_the_parent_serves_the_wiki_but_not_state_backups_or_old_trees(world: Path) -> None:
    # The worst case: the admin put the state directory under the web root too (--state-dir www/state).
    wiki, backup = _upgraded(world, state_dir=world / "www" / "state")
    port = _free_port()
    server = subprocess.Popen([*AS_NOBODY, "php", "-S", f"127.0.0.1:{port}", "-t", str(wiki.parent)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        code, _ = _get(f"{base}/wiki/api.php")
        assert code == 200  # control: the server does serve the wiki
        rel_backup = backup.relative_to(wiki.parent)
        for path in (f"{rel_backup}/database/wiki.sqlite", f"{rel_backup}/LocalSettings.php", "state/history.json",
                     "wiki.mwrelease-old-1.39.1/index.php", "wiki.mwrelease-old-1.39.1/LocalSettings.php",
                     "wiki/.mwrelease/manifest.json"):
            code, body = _get(f"{base}/{path}")
            assert code != 200 and b"SQLite format" not in body and b"wgDB" not in body, path
    finally:
        server.kill()
        server.wait()
