"""Backups of what an upgrade may change: the database, LocalSettings.php and the images directory's list.

SQLite: Python's ``sqlite3`` online backup API copies each database file consistently while PHP may
still read it (MediaWiki keeps several files in $wgSQLiteDataDir: the wiki, its l10n cache, job queue,
object cache; all are copied). MariaDB/MySQL: ``mariadb-dump``/``mysqldump --single-transaction``.
PostgreSQL: ``pg_dump -Fc``. Restores are the inverse, and replace the live database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from mwrelease.errors import UpgradeError
from mwrelease.release.manifest import sha256_file
from mwrelease.upgrade.inspect import Database

BACKUP_FORMAT = "mwrelease.backup/1"


def sqlite_files(db: Database) -> list[Path]:
    d = Path(db.sqlite_dir)
    if not d.is_dir():
        raise UpgradeError(f"The SQLite data directory {d} ($wgSQLiteDataDir) does not exist.",
                           hint="Check $wgSQLiteDataDir in LocalSettings.php.")
    files = sorted(p for p in d.iterdir() if p.suffix == ".sqlite" and p.is_file())
    main = d / f"{db.name}.sqlite"
    if main not in files:
        raise UpgradeError(f"The wiki's SQLite database {main} does not exist.",
                           hint="Check $wgDBname and $wgSQLiteDataDir in LocalSettings.php.")
    return files


def database_size(db: Database) -> int:
    if db.type == "sqlite":
        try:
            return sum(p.stat().st_size for p in sqlite_files(db))
        except UpgradeError:
            return 0
    return 0


def backup_database(db: Database, dest: Path, *, log: Path) -> dict[str, Any]:
    dest.mkdir(parents=True, exist_ok=True)
    if db.type == "sqlite":
        out = []
        for src in sqlite_files(db):
            target = dest / src.name
            s = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=60)
            t = sqlite3.connect(target)
            try:
                with t:
                    s.backup(t)
            finally:
                s.close()
                t.close()
            out.append(src.name)
        return {"type": "sqlite", "files": out, "dir": db.sqlite_dir}
    if db.type == "mysql":
        dump = _client("mariadb-dump", "mysqldump")
        target = dest / "database.sql"
        _run([dump, *_mysql_args(db), "--single-transaction", "--quick", "--add-drop-table", "--routines",
              "--result-file", str(target), db.name], db, log)
        return {"type": "mysql", "file": target.name}
    if db.type == "postgres":
        target = dest / "database.pgdump"
        _run(["pg_dump", "-Fc", "-f", str(target), *_pg_args(db), db.name], db, log)
        return {"type": "postgres", "file": target.name}
    raise UpgradeError(f"Database type {db.type!r} is not supported for backups.",
                       hint="Back the database up yourself and upgrade by hand.")


def restore_database(db: Database, src: Path, info: dict[str, Any], *, log: Path) -> None:
    if info["type"] == "sqlite":
        d = Path(info["dir"])
        for name in info["files"]:
            target = d / name
            tmp = d / f".{name}.mwrelease-restore"
            shutil.copyfile(src / name, tmp)
            _copy_owner(target, tmp)
            os.replace(tmp, target)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(target) + suffix).unlink(missing_ok=True)
        # Files update.php created (a new cache db) are left alone: they are caches.
        return
    if info["type"] == "mysql":
        client = _client("mariadb", "mysql")
        # Tables that update.php created do not exist in the dump: drop every table first.
        tables = _run([client, *_mysql_args(db), "-N", "-e", "SHOW TABLES", db.name], db, log).split()
        if tables:
            drops = "SET FOREIGN_KEY_CHECKS=0; " + " ".join(f"DROP TABLE IF EXISTS `{t}`;" for t in tables)
            _run([client, *_mysql_args(db), "-e", drops, db.name], db, log)
        with open(src / info["file"]) as fh:
            _run([client, *_mysql_args(db), db.name], db, log, stdin=fh)
        return
    if info["type"] == "postgres":
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", *_pg_args(db), "-d", db.name,
              str(src / info["file"])], db, log)
        return
    raise UpgradeError(f"Cannot restore a {info['type']!r} backup.")


def images_manifest(upload_dir: Path) -> dict[str, Any]:
    """Every uploaded file's path, size and sha256 (thumbnails and temp files are regenerated, so skipped)."""
    files: dict[str, list[Any]] = {}
    if upload_dir.is_dir():
        for dirpath, dirnames, filenames in os.walk(upload_dir):
            rel_dir = os.path.relpath(dirpath, upload_dir)
            if rel_dir.split(os.sep)[0] in ("thumb", "temp", "lockdir", "tmp"):
                dirnames[:] = []
                continue
            for name in filenames:
                p = Path(dirpath, name)
                if p.is_file() and not p.is_symlink():
                    files[os.path.normpath(os.path.join(rel_dir, name))] = [p.stat().st_size, sha256_file(p)]
    return {"format": "mwrelease.images/1", "dir": str(upload_dir), "files": files}


def check_images(manifest: dict[str, Any], upload_dir: Path) -> list[str]:
    """Uploaded files listed in the manifest that are missing or changed under upload_dir."""
    now = images_manifest(upload_dir)["files"]
    return [p for p, v in manifest["files"].items() if now.get(p) != v]


def write_backup_info(dest: Path, info: dict[str, Any]) -> None:
    (dest / "backup.json").write_text(json.dumps({"format": BACKUP_FORMAT, **info}, indent=2) + "\n")


def _copy_owner(src: Path, dest: Path) -> None:
    try:
        st = src.stat()
        os.chown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, st.st_mode & 0o7777)
    except OSError:
        pass


def _client(*names: str) -> str:
    for n in names:
        if shutil.which(n):
            return n
    raise UpgradeError(f"None of {', '.join(names)} is installed; the database cannot be backed up.",
                       hint="Install the database client package (mariadb-client or postgresql-client).")


def _mysql_args(db: Database) -> list[str]:
    host, _, port = db.server.partition(":")
    args = [f"--host={host or 'localhost'}", f"--user={db.user}"]
    # MediaWiki reads a MySQL port only from $wgDBserver ("host:port"); $wgDBport (default 5432) is PostgreSQL's.
    if port:
        args.append(f"--port={port}")
    return args


def _pg_args(db: Database) -> list[str]:
    args = ["-h", db.server or "localhost", "-U", db.user]
    if db.port:
        args += ["-p", db.port]
    return args


def _run(cmd: list[str], db: Database, log: Path, stdin: Any = None) -> str:
    # Passwords go in the environment, never on the command line (ps would show them) or in the log.
    env = {**os.environ, "MYSQL_PWD": db.password, "PGPASSWORD": db.password}
    res = subprocess.run(cmd, env=env, stdin=stdin, capture_output=True, text=True, timeout=3600)
    with open(log, "a") as fh:
        fh.write(f"+ {' '.join(cmd)}\n{res.stderr}")
    if res.returncode != 0:
        raise UpgradeError(f"`{cmd[0]}` failed with exit code {res.returncode}.",
                           details=res.stderr.strip().splitlines()[-10:])
    return res.stdout
