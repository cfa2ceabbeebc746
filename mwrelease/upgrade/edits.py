"""How many revisions a wiki's database holds since a moment: what a rollback to a backup taken then loses.

SQLite is read with Python's sqlite3, read-only, from the live database file; MariaDB/MySQL and PostgreSQL
with the command-line clients the backup uses. Any failure gives an unknown count with the reason, never an
error: the count informs the admin's decision, it does not gate it.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import MwreleaseError
from mwrelease.upgrade.inspect import Database


@dataclass(frozen=True, kw_only=True)
class Edits:
    since: str  # ISO UTC, e.g. 2026-11-22T03:00:00Z
    count: int | None  # None: unknown (see reason)
    first: str | None = None  # ISO UTC of the first and last revision in the window
    last: str | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "revisions": self.count, "first": self.first, "last": self.last,
                "reason": self.reason}

    def render(self) -> str:
        if self.count is None:
            return f"edits since {self.since}: unknown ({self.reason})"
        if self.count == 0:
            return f"edits since {self.since}: none"
        return f"edits since {self.since}: {self.count} revision(s), from {self.first} to {self.last}"


def mw_timestamp(iso: str) -> str:
    """2026-11-22T03:00:00Z -> 20261122030000 (MediaWiki's TS_MW, UTC)."""
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%d%H%M%S")


def iso_timestamp(mw: str) -> str:
    return dt.datetime.strptime(mw[:14], "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")


def revisions_since(db: Database, since: str) -> Edits:
    try:
        ts = mw_timestamp(since)
    except ValueError:
        return Edits(since=since, count=None, reason=f"the time {since!r} cannot be read")
    table = f"{db.prefix}revision"
    try:
        if db.type == "sqlite":
            row = _sqlite(db, table, ts)
        elif db.type == "mysql":
            row = _mysql(db, table, ts)
        elif db.type == "postgres":
            row = _postgres(db, table, ts)
        else:
            return Edits(since=since, count=None, reason=f"database type {db.type!r} is not supported")
    except (OSError, sqlite3.Error, subprocess.SubprocessError, MwreleaseError, ValueError) as exc:
        msg = exc.message if isinstance(exc, MwreleaseError) else (str(exc).strip() or type(exc).__name__)
        return Edits(since=since, count=None, reason=f"could not count the revisions: {msg}")
    count, first, last = row
    return Edits(since=since, count=count, first=iso_timestamp(first) if first else None,
                 last=iso_timestamp(last) if last else None)


def _sqlite(db: Database, table: str, ts: str) -> tuple[int, str | None, str | None]:
    path = Path(db.sqlite_dir) / f"{db.name}.sqlite"
    if not path.is_file():
        raise OSError(f"the SQLite database {path} does not exist")
    # mode=ro: never write, not even a journal; the wiki may be serving requests.
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        r = con.execute(f'SELECT COUNT(*), MIN(rev_timestamp), MAX(rev_timestamp) FROM "{table}" '
                        "WHERE rev_timestamp >= ?", (ts,)).fetchone()
    finally:
        con.close()
    return int(r[0]), _text(r[1]), _text(r[2])


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


def _mysql(db: Database, table: str, ts: str) -> tuple[int, str | None, str | None]:
    from mwrelease.upgrade.backup import _client, _mysql_args

    query = f"SELECT COUNT(*), MIN(rev_timestamp), MAX(rev_timestamp) FROM `{table}` WHERE rev_timestamp >= '{ts}'"
    out = _query([_client("mariadb", "mysql"), *_mysql_args(db), "-N", "-B", "-e", query, db.name], db)
    return _row(out)


def _postgres(db: Database, table: str, ts: str) -> tuple[int, str | None, str | None]:
    from mwrelease.upgrade.backup import _pg_args

    # rev_timestamp is a TIMESTAMPTZ on PostgreSQL.
    fmt = "to_char({} AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')"
    query = (f"SELECT COUNT(*), {fmt.format('MIN(rev_timestamp)')}, {fmt.format('MAX(rev_timestamp)')} "
             f"FROM {table} WHERE rev_timestamp >= to_timestamp('{ts}', 'YYYYMMDDHH24MISS') AT TIME ZONE 'UTC'")
    # MediaWiki's tables live in the schema $wgDBmwschema ("mediawiki" by default), which the wiki's role
    # does not always have on its search_path; SET ignores a schema that does not exist. -q: no "SET" tag.
    query = f"SET search_path TO mediawiki, public; {query}"
    out = _query(["psql", "-X", "-q", "-tA", "-F", "\t", *_pg_args(db), "-d", db.name, "-c", query], db)
    return _row(out)


def _query(cmd: list[str], db: Database) -> str:
    env = {**os.environ, "MYSQL_PWD": db.password, "PGPASSWORD": db.password}  # never on the command line
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise OSError(f"`{cmd[0]}` failed: {(res.stderr.strip().splitlines() or ['no output'])[-1]}")
    return res.stdout


def _row(out: str) -> tuple[int, str | None, str | None]:
    cells = (out.strip().splitlines() or [""])[0].split("\t")
    if len(cells) != 3:
        raise ValueError(f"unexpected answer {out.strip()!r}")
    return int(cells[0]), (cells[1] if cells[1] not in ("", "NULL") else None), \
        (cells[2] if cells[2] not in ("", "NULL") else None)
