"""The upgrade journal: written (and fsynced) before every step, so a killed upgrade can be undone.

State directory (``statedir``): ``/var/lib/mwrelease/<wiki-id>/`` for root, ``$XDG_STATE_HOME/mwrelease/<wiki-id>/``
otherwise, unless ``--state-dir`` says otherwise; 0700, and refused unless private to the user running mwrelease::

    journal.json            the upgrade in progress (absent when none is)
    history.json            finished upgrades and rollbacks, newest last
    backups/<id>/           database dump, LocalSettings.php, images manifest of one upgrade
    downloads/              verified artifacts
    logs/<id>.log           every command's output

``journal.json`` (format ``mwrelease.journal/1``)::

    {
      "format": "mwrelease.journal/1",
      "id": "20261122T031500Z-1.39.10-to-1.43.5",
      "pid": 1234, "host": "wiki1",
      "wiki": "/var/www/wiki", "layout": "directory" | "symlink",
      "from": "1.39.10", "to": "1.43.5",
      "state": "running" | "done" | "failed" | "rolled-back",
      "paths": {"old_tree": "...", "new_tree": "...", "aside": "...", "backup": "...", "link_target_before": "..."},
      "steps": [{"name": "download", "status": "started" | "done" | "failed" | "undone",
                 "started": "...", "finished": "...", "seconds": 1.2, "detail": "..."}],
      "read_only_since": "..." | null,
      "php": {"before": "php7.4", "after": "php8.2"},  # the reload command gets "before" on a switch back
      "update_pid": 4321,        # update.php's process group: a recovery kills it before restoring the database
      "error": null | "..."
    }

The journal records facts, never commands: the reload command a recovery runs comes from its own command
line (an older journal's "reload_command" is ignored).

When it ends, the journal (with "finished", "read_only_seconds", "total_seconds", "health") is appended to
``history.json`` (format ``mwrelease.history/1``: {"format", "entries": [...]}) and removed; a rollback of a
finished upgrade is journaled the same way with "rollback_of" and "kind": "rollback". ``mwrelease prune``
adds "pruned": "<timestamp>" to an entry once it removed that run's old tree, backup or parked tree.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Collection, Mapping, Sequence

from mwrelease.errors import ConfigError, UpgradeError
from mwrelease.fsutil import now, write_atomic
from mwrelease.upgrade.statedir import check_private, state_dir_for

JOURNAL_FORMAT = "mwrelease.journal/1"
HISTORY_FORMAT = "mwrelease.history/1"


def write_json_durably(path: Path, data: Any) -> None:
    """Atomic and durable (the directory is fsynced too): after this returns the content survives a crash.
    Mode 0600, as the journal has always been written."""
    write_atomic(path, json.dumps(data, indent=2) + "\n", mode=0o600, durable=True)


class Journal:
    def __init__(self, state_dir: Path, data: dict[str, Any]) -> None:
        self.state_dir = state_dir
        self.data = data
        self._t0: dict[str, float] = {}

    @property
    def path(self) -> Path:
        return self.state_dir / "journal.json"

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @classmethod
    def start(cls, state_dir: Path, *, wiki: Path, layout: str, from_version: str, to_version: str) -> Journal:
        jid = f"{now('%Y%m%dT%H%M%SZ')}-{from_version}-to-{to_version}"
        data = {"format": JOURNAL_FORMAT, "id": jid, "pid": os.getpid(), "host": socket.gethostname(),
                "wiki": str(wiki), "layout": layout, "from": from_version, "to": to_version, "state": "running",
                "started": now(), "paths": {}, "steps": [], "read_only_since": None, "error": None}
        j = cls(state_dir, data)
        j.save()
        return j

    @classmethod
    def load(cls, state_dir: Path) -> Journal | None:
        p = state_dir / "journal.json"
        if not os.path.lexists(p):
            return None
        check_private(p, "upgrade journal")
        damaged = UpgradeError(f"The upgrade journal {p} is damaged; an earlier upgrade may be half done. Nothing "
                               "was changed.", hint="Look at the log files beside it, check the wiki, then move the "
                                                    "journal away.")
        try:
            data = json.loads(p.read_bytes())
        except (ValueError, RecursionError, OSError):
            raise damaged from None
        if not isinstance(data, dict):
            raise damaged
        if data.get("format") != JOURNAL_FORMAT:
            raise UpgradeError(f"{p} is not an mwrelease journal (format {str(data.get('format'))[:40]!r}).")
        if not _journal_shape_ok(data):
            raise damaged
        return cls(state_dir, data)

    def save(self) -> None:
        write_json_durably(self.path, self.data)

    def set_path(self, key: str, value: str | None) -> None:
        self.data["paths"][key] = value
        self.save()

    def path_of(self, key: str) -> str | None:
        v = self.data["paths"].get(key)
        return str(v) if v is not None else None

    def begin(self, name: str, detail: str = "") -> None:
        self.data["steps"].append({"name": name, "status": "started", "started": now(), "detail": detail})
        self._t0[name] = time.monotonic()
        self.save()

    def done(self, name: str, detail: str | None = None) -> None:
        step = self.step(name)
        assert step is not None
        step["status"] = "done"
        step["finished"] = now()
        if name in self._t0:
            step["seconds"] = round(time.monotonic() - self._t0[name], 3)
        if detail is not None:
            step["detail"] = detail
        self.save()

    def mark(self, name: str, status: str) -> None:
        step = self.step(name)
        if step is not None:
            step["status"] = status
            self.save()

    def step(self, name: str) -> dict[str, Any] | None:
        for s in reversed(self.data["steps"]):
            if s["name"] == name:
                live: dict[str, Any] = s  # the live dict, updated in place
                return live
        return None

    def reached(self, name: str) -> bool:
        """True when the step was at least started (its effects may be partly there)."""
        return self.step(name) is not None

    def finish(self, state: str, *, error: str | None = None, extra: dict[str, Any] | None = None) -> None:
        self.data["state"] = state
        self.data["finished"] = now()
        self.data["error"] = error
        if extra:
            self.data.update(extra)
        self.save()
        append_history(self.state_dir, self.data)
        self.path.unlink(missing_ok=True)

    def owner_alive(self) -> bool:
        if self.data.get("host") != socket.gethostname():
            return False
        pid = int(self.data.get("pid") or 0)
        if pid <= 0 or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie (killed but not reaped) is not alive for our purpose.
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            return stat.rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return True


def _journal_shape_ok(d: dict[str, Any]) -> bool:
    """What undo and recovery read without further checks has the type they expect."""
    steps, paths = d.get("steps"), d.get("paths")
    return (isinstance(d.get("id"), str) and isinstance(d.get("wiki"), str) and os.path.isabs(d["wiki"])
            and d.get("layout") in ("directory", "symlink") and isinstance(d.get("from"), str)
            and isinstance(d.get("to"), str) and isinstance(paths, dict)
            and all(isinstance(v, (str, int)) or v is None for v in paths.values())
            and isinstance(steps, list)
            and all(isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("status"), str)
                    for s in steps)
            and isinstance(d.get("php") or {}, dict)
            and (d.get("update_pid") is None or (isinstance(d["update_pid"], int) and d["update_pid"] > 1)))


def load_history(state_dir: Path) -> list[dict[str, Any]]:
    """The entries of history.json ([] when there is none); ConfigError when it is damaged."""
    p = state_dir / "history.json"
    if not os.path.lexists(p):
        return []
    check_private(p, "upgrade history")
    try:
        data = json.loads(p.read_bytes())
    except (ValueError, RecursionError, OSError) as exc:
        raise ConfigError(f"The upgrade history {p} is damaged ({str(exc)[:200]}); nothing was changed.",
                          hint="Restore it from a backup or move it away (rollback and prune decide from it).") \
            from None
    entries = data.get("entries", []) if isinstance(data, dict) else []
    return list(entries)


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One entry of history.json (or a journal, which has the same shape), parsed once: each field holds a
    value of its type or None, whatever the file says. ``raw`` is the entry as stored, for output."""

    id: str | None
    wiki: str | None
    is_rollback: bool  # "kind": "rollback"; anything else is an upgrade
    state: str | None  # "done" | "failed" | "rolled-back" | "running"
    from_version: str | None
    to_version: str | None
    layout: str | None  # "directory" | "symlink"
    paths: Mapping[str, str]  # only the non-empty string values, in file order
    has_paths: bool  # "paths" is an object (entries without one did not get far enough to be a run)
    rollback_of: str | None
    started: str | None
    finished: str | None
    pruned: str | None
    php_before: str | None
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, h: Any) -> HistoryEntry | None:
        """None for anything that is not an object."""
        if not isinstance(h, dict):
            return None
        paths = h.get("paths")
        php = h.get("php")
        return cls(id=_str(h.get("id")), wiki=_str(h.get("wiki")), is_rollback=h.get("kind") == "rollback",
                   state=_str(h.get("state")), from_version=_opt(h.get("from")), to_version=_opt(h.get("to")),
                   layout=_str(h.get("layout")),
                   paths=MappingProxyType({k: v for k, v in paths.items() if isinstance(v, str) and v}
                                          if isinstance(paths, dict) else {}),
                   has_paths=isinstance(paths, dict), rollback_of=_str(h.get("rollback_of")),
                   started=_opt(h.get("started")), finished=_opt(h.get("finished")), pruned=_opt(h.get("pruned")),
                   php_before=_str(php.get("before")) if isinstance(php, dict) else None,
                   raw=MappingProxyType(h))

    def path(self, key: str) -> str | None:
        return self.paths.get(key)

    @property
    def label(self) -> str:
        kind = "rollback" if self.is_rollback else "upgrade"
        return f"{kind} {self.from_version} -> {self.to_version} of {self.finished or self.started or '?'}"


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


def parse_history(entries: Sequence[Any]) -> list[HistoryEntry]:
    """The entries that are objects, parsed, oldest first."""
    return [e for e in (HistoryEntry.parse(h) for h in entries) if e is not None]


def read_history(state_dir: Path) -> list[HistoryEntry]:
    return parse_history(load_history(state_dir))


def standing_upgrades(history: Sequence[HistoryEntry], wiki: str) -> list[HistoryEntry]:
    """The finished upgrades of ``wiki`` that no finished rollback has undone, oldest first: `rollback`
    undoes the last of them, `prune` keeps the newest N."""
    undone = {h.rollback_of for h in history if h.is_rollback and h.state == "done"}
    return [h for h in history if h.wiki == wiki and h.state == "done" and not h.is_rollback
            and h.id not in undone]


def append_history(state_dir: Path, entry: dict[str, Any]) -> None:
    entries = load_history(state_dir)
    entries.append(entry)
    write_json_durably(state_dir / "history.json", {"format": HISTORY_FORMAT, "entries": entries})


def mark_history(state_dir: Path, ids: Collection[str], fields: dict[str, Any], *, wiki: str | None = None) -> int:
    """Set ``fields`` on the history entries with these ids (of this wiki, when given); returns how many
    changed. A history file that is missing or not in the expected format is left alone."""
    p = state_dir / "history.json"
    if not ids or not p.exists():
        return 0
    try:
        data = json.loads(p.read_bytes())
    except (ValueError, RecursionError, OSError):
        return 0
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        return 0
    changed = 0
    for entry in data["entries"]:
        if isinstance(entry, dict) and entry.get("id") in ids and (wiki is None or entry.get("wiki") == wiki):
            entry.update(fields)
            changed += 1
    if changed:
        write_json_durably(p, {**data, "format": data.get("format", HISTORY_FORMAT)})
    return changed
