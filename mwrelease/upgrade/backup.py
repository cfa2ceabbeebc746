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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mwrelease.errors import UpgradeError
from mwrelease.fsutil import replacing
from mwrelease.release.manifest import sha256_file
from mwrelease.upgrade.inspect import Database

BACKUP_FORMAT = "mwrelease.backup/1"


@contextmanager
def private_files() -> Iterator[None]:
    """Everything created in the block, by us or by mariadb-dump/pg_dump, is 0600 (folders 0700)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


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
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
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
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))  # the dump keeps this mode
        _run([dump, *_mysql_args(db), "--single-transaction", "--quick", "--add-drop-table", "--routines",
              "--result-file", str(target), db.name], db, log)
        return {"type": "mysql", "file": target.name}
    if db.type == "postgres":
        target = dest / "database.pgdump"
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        _run(["pg_dump", "-Fc", "-f", str(target), *_pg_args(db), db.name], db, log)
        return {"type": "postgres", "file": target.name}
    raise UpgradeError(f"Database type {db.type!r} is not supported for backups.",
                       hint="Back the database up yourself and upgrade by hand.")


def restore_database(db: Database, src: Path, info: dict[str, Any], *, log: Path) -> None:
    if info["type"] == "sqlite":
        d = Path(info["dir"])
        for name in info["files"]:
            target = d / name
            with replacing(target) as tmp:
                shutil.copyfile(src / name, tmp)
                _copy_owner(target, tmp)
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
        _restore_postgres(db, src / info["file"], log)
        return
    raise UpgradeError(f"Cannot restore a {info['type']!r} backup.")


def _restore_postgres(db: Database, dump: Path, log: Path) -> None:
    """Replace the live database with the dump, in one transaction.

    ``pg_restore --clean`` only drops what the dump holds: tables that update.php created (1.43's block and
    block_target, say) stay, and keep the dump's schema from being dropped and re-created, so the restore
    failed half-done. So first drop every schema the dump creates, with everything in it, and every table in
    the dump's other schemas (public) that the dump does not hold; then the dump's SQL; all or nothing.
    """
    schemas, tables = pg_toc(_run(["pg_restore", "-l", str(dump)], db, log))
    drops = [f"DROP SCHEMA IF EXISTS {_pg_ident(n)} CASCADE;" for n in sorted(schemas)]
    others = sorted(set(tables) - schemas)
    if others:
        query = ("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ("
                 + ", ".join(_pg_literal(n) for n in others) + ")")
        live = _run(["psql", "-X", "-tA", "-F", "\t", *_pg_args(db), "-d", db.name, "-c", query], db, log)
        for row in live.splitlines():
            schema, _, table = row.partition("\t")
            if table and table not in tables.get(schema, set()):
                drops.append(f"DROP TABLE IF EXISTS {_pg_ident(schema)}.{_pg_ident(table)} CASCADE;")
    script = dump.with_name(dump.name + ".restore.sql")
    try:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "-f", str(script), str(dump)], db, log)
        # No NOTICEs ("drop cascades to table ..." for every table): the log's tail must still show why
        # the upgrade failed.
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", *_pg_args(db), "-d", db.name,
               "-c", "SET client_min_messages = warning; " + " ".join(drops)]
        _run(cmd + ["-f", str(script)], db, log)
    finally:
        script.unlink(missing_ok=True)


def pg_toc(toc: str) -> tuple[set[str], dict[str, set[str]]]:
    """From ``pg_restore -l``: the schemas the dump creates, and its tables by schema."""
    schemas: set[str] = set()
    tables: dict[str, set[str]] = {}
    for ln in toc.splitlines():
        if ln.startswith(";") or "; " not in ln:
            continue
        parts = ln.split("; ", 1)[1].split()  # "<oid> <oid> KIND schema name owner"; schema "-" for a SCHEMA
        if len(parts) >= 5 and parts[2] == "SCHEMA" and parts[3] == "-":
            schemas.add(parts[4])
        elif len(parts) >= 5 and parts[2] == "TABLE" and parts[3] != "DATA":
            tables.setdefault(parts[3], set()).add(parts[4])
    return schemas, tables


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
