"""`mwrelease install`: a fresh wiki from a verified release of a channel, with install.php run for you.

The same channel client as `upgrade` reads the index and the manifest (sha256 from the index) and downloads
the full artifact (sha256 while streaming); ``unpack_verified`` checks every file against the manifest. The
manifest is then written into the tree (``.mwrelease/manifest.json``) exactly as `upgrade` does after a
stop: that is the baseline the next `upgrade` (delta artifacts) and `verify` compare the tree with.

Passwords never reach a command line: install.php reads them from 0600 files (``--passfile``,
``--dbpassfile``) that are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from mwrelease.errors import ConfigError, UpgradeError
from mwrelease.fsutil import write_atomic
from mwrelease.release.archive import unpack_verified
from mwrelease.release.channel import ChannelIndex, ReleaseEntry
from mwrelease.release.lines import line_key
from mwrelease.trust.client import open_channel
from mwrelease.upgrade.inspect import INSTALLED_MANIFEST
from mwrelease.upgrade.statedir import open_state

Say = Callable[[str], None]
DbType = Literal["sqlite", "mariadb", "postgres"]
# install.php's --dbtype names
_DBTYPE = {"sqlite": "sqlite", "mariadb": "mysql", "postgres": "postgres"}


@dataclass(frozen=True, kw_only=True)
class InstallOptions:
    channel: str
    path: Path  # the wiki's directory; must not exist, or be empty
    db: DbType
    server: str  # the wiki's URL: scheme://host[:port][/script path]
    admin: str
    admin_password: str = field(repr=False)
    sitename: str = "My wiki"
    to: str | None = None
    line: str | None = None
    db_name: str = "my_wiki"
    db_server: str = "localhost"
    db_user: str = ""
    db_password: str = field(default="", repr=False)
    data_dir: Path | None = None  # SQLite: where the database files go (default: <path>-data beside the wiki)
    php: str = "php"
    state_dir: Path | None = None
    with_extensions: bool = True  # load every extension and skin the release ships
    allow_unsigned: bool = False  # read an unsigned (or not yet trusted) channel unverified, loudly warned


def choose_release(index: ChannelIndex, *, to: str | None, line: str | None) -> ReleaseEntry:
    """--to VERSION, else the newest of --line, else the channel's newest release."""
    if to and line:
        raise ConfigError("Give either --to VERSION or --line LINE, not both.")
    if to:
        rel = index.find(to)
        if rel is None:
            known = ", ".join(r.version for r in index.releases) or "none"
            raise ConfigError(f"The channel has no release {to} (it has: {known}).")
        return rel
    want = line[:-4] if line and line.endswith("-lts") else line
    rel = index.newest(want)
    if rel is None:
        have = ", ".join(sorted({r.line for r in index.releases}, key=line_key)) or "none"
        raise ConfigError(f"The channel has no release{' on the ' + str(want) + ' line' if want else 's'} "
                          f"(it has: {have}).", hint="Choose a line with --line, e.g. --line 1.43.")
    return rel


def split_server(url: str) -> tuple[str, str]:
    """http://example.org/w -> ("http://example.org", "/w"): $wgServer and $wgScriptPath."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ConfigError(f"--server {url!r} is not an http(s) URL.", hint="For example --server http://wiki.example.org")
    return f"{u.scheme}://{u.netloc}", u.path.rstrip("/")


def install_args(o: InstallOptions, tree: Path, data_dir: Path, passfile: Path, dbpassfile: Path | None) -> list[str]:
    """install.php's command line (no secrets: those are in the files)."""
    server, script_path = split_server(o.server)
    args = ["maintenance/install.php", f"--dbtype={_DBTYPE[o.db]}", f"--dbname={o.db_name}", f"--server={server}",
            f"--scriptpath={script_path}", f"--passfile={passfile}", f"--confpath={tree}", "--lang=en"]
    if o.db == "sqlite":
        args.append(f"--dbpath={data_dir}")
    else:
        args += [f"--dbserver={o.db_server}", f"--dbuser={o.db_user}"]
        if dbpassfile is not None:
            args.append(f"--dbpassfile={dbpassfile}")
    if o.with_extensions:
        args.append("--with-extensions")
    return [*args, o.sitename, o.admin]


def install(o: InstallOptions, *, say: Say) -> dict[str, Any]:
    path = Path(os.path.abspath(o.path))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"{path} exists and is not an empty directory; install creates a fresh wiki there.",
                          hint="Choose a new --path; to upgrade an existing wiki, use `mwrelease upgrade`.")
    if o.db != "sqlite" and not o.db_user:
        raise ConfigError(f"--db {o.db} needs --db-user (and its password in --db-password-file or "
                          "$MWRELEASE_DB_PASSWORD).")
    split_server(o.server)  # refuse a bad URL before downloading anything
    if shutil.which(o.php) is None:
        raise ConfigError(f"PHP ({o.php}) is not on PATH; install.php needs it.", hint="Install php-cli or pass --php.")
    state = open_state(path, o.state_dir, say=say)
    client = open_channel(o.channel, allow_unsigned=o.allow_unsigned, warn=say)
    rel = choose_release(client.index(), to=o.to, line=o.line)
    manifest = client.manifest(rel.manifest_file, rel.manifest_sha256)
    art = rel.full()
    say(f"Installing MediaWiki {rel.version} from {o.channel} into {path}")
    tarball = client.download(art, state / "downloads")
    if path.exists():
        path.rmdir()  # empty (checked above): unpack_verified creates it
    unpack_verified(tarball, manifest, path)
    say(f"  {art.file}: sha256 and all {len(manifest.files)} files verified")
    # Private like the upgrade's copy (stop.py): exact versions and commits are not for the web.
    (path / ".mwrelease").mkdir(mode=0o700, exist_ok=True)
    os.chmod(path / ".mwrelease", 0o700)
    write_atomic(path / INSTALLED_MANIFEST, manifest.dumps(), mode=0o600)
    for admin_dir in ("images", "cache"):  # the installation's, not the release's: a release may lack them
        (path / admin_dir).mkdir(exist_ok=True)
    data_dir = Path(os.path.abspath(o.data_dir or path.with_name(path.name + "-data")))
    made_data = False
    if o.db == "sqlite":
        if data_dir.exists() and any(data_dir.glob(f"{o.db_name}*.sqlite")):
            shutil.rmtree(path)
            raise ConfigError(f"{data_dir} already holds a {o.db_name} SQLite database; nothing was installed.",
                              hint="Pass --data-dir with a new directory, or another --db-name.")
        made_data = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
    res = _run_install_php(o, path, data_dir, state)
    if res.returncode != 0 or not (path / "LocalSettings.php").is_file():
        # A fresh install that failed leaves nothing behind that a second try would trip over.
        shutil.rmtree(path, ignore_errors=True)
        if made_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        tail = (res.stdout + res.stderr).strip().splitlines()[-10:]
        raise UpgradeError(f"install.php failed (exit {res.returncode}); the unpacked tree was removed.",
                           details=tail, hint="Fix the cause shown above (database access, password rules) and run "
                                              "`mwrelease install` again.")
    say(f"MediaWiki {rel.version} is installed at {path} (admin {o.admin}).")
    return {"version": rel.version, "release": manifest.name, "path": str(path), "database": o.db,
            "data_dir": str(data_dir) if o.db == "sqlite" else None, "server": o.server, "admin": o.admin,
            "local_settings": str(path / "LocalSettings.php"), "state_dir": str(state),
            "manifest": str(path / INSTALLED_MANIFEST),
            "next": "make images/ (and the SQLite data directory) writable by the web server's user"}


def _run_install_php(o: InstallOptions, tree: Path, data_dir: Path, state: Path) -> subprocess.CompletedProcess[str]:
    state.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=state, prefix="install-") as tmp:
        os.chmod(tmp, 0o700)
        passfile = Path(tmp) / "pass"
        passfile.write_text(o.admin_password)
        passfile.chmod(0o600)
        dbpassfile = None
        if o.db != "sqlite" and o.db_password:
            dbpassfile = Path(tmp) / "dbpass"
            dbpassfile.write_text(o.db_password)
            dbpassfile.chmod(0o600)
        cmd = [o.php, *install_args(o, tree, data_dir, passfile, dbpassfile)]
        return subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "MW_INSTALL_PATH": str(tree)})
