"""Choosing what `mwrelease prune` removes: a pure function of the history (no disk access).

The old tree and backup of the newest ``keep`` finished upgrades stay, older ones go, and so do parked
trees, leftover new trees and the backups of failed or rolled-back runs. In three parts: the paths to
protect, the candidates the history names, and the vetting of each candidate against both (see
``upgrade.prune`` for the rules and the checks on disk).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from mwrelease.upgrade.journal import HistoryEntry, standing_upgrades
from mwrelease.upgrade.statedir import state_dir_for

OLD_TREE = "old-tree"  # an upgrade's old tree: what `rollback` switches back to
BACKUP = "backup"  # an upgrade's database/LocalSettings.php backup: what `rollback` restores
PARKED_TREE = "parked-tree"  # the tree a rollback replaced
NEW_TREE = "new-tree"  # a failed run's unpacked tree that its clean-up left behind
DOWNLOAD = "download"  # a downloaded artifact (a cache)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Removal:
    path: str
    kind: str
    what: str  # for people: "old tree of MediaWiki 1.39.1 (upgrade 1.39.1 -> 1.43.1 of 2026-...)"
    entry: str | None = None  # the history entry (upgrade or rollback id) it belongs to
    skip: str | None = None  # why it is not removed after all (reported, never carried out)

    def skipped(self, reason: str) -> Removal:
        return Removal(path=self.path, kind=self.kind, what=self.what, entry=self.entry, skip=reason)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class _Scope:
    """Where one wiki's prune may look: normalised absolute paths."""

    wiki: str
    parent: str  # the wiki's directory: old trees, parked and new trees lie here
    name: str  # the wiki's base name, which mwrelease's names for those trees start from
    state: str
    target: str  # the wiki's resolved tree
    backups: str

    @property
    def roots(self) -> list[str]:
        return [self.parent, self.state]  # everything removed lies strictly inside one of these


@dataclass(frozen=True, kw_only=True)
class _Runs:
    """The history of one wiki, sorted out once."""

    entries: list[HistoryEntry]  # every entry of the state directory (other wikis' too)
    mine: list[HistoryEntry]  # this wiki's entries that look like runs (an id, a paths object)
    kept: list[HistoryEntry]  # the upgrades whose old tree and backup stay, oldest first
    rolled_back: set[str | None]  # upgrades a finished rollback undid
    in_doubt: set[str | None]  # upgrades a rollback failed half way on: the wiki may be on either tree
    by_id: dict[str | None, HistoryEntry]  # this wiki's upgrades


@dataclass(frozen=True, kw_only=True)
class Selection:
    candidates: list[Removal]
    protected: list[tuple[str, str]]  # (path, what needs it): nothing removed may equal, hold or lie inside it
    roots: list[str]  # everything removed lies strictly inside one of these
    kept: list[HistoryEntry]  # the history entries whose old tree and backup stay, oldest first


Check = Callable[[str], "str | None"]  # None when a path passes, else why not


# --- choosing (pure) ---------------------------------------------------------------------------

def plan_prune(history: Sequence[Any], wiki: Path, keep: int, *, state_dir: Path | None = None,
               wiki_target: str | None = None) -> list[Removal]:
    """What to remove for ``wiki`` given its history (all entries of the state directory, oldest first, as
    stored or parsed).

    Keeps the old tree and backup of the newest ``keep`` finished (and not rolled back) upgrades; a
    removal that fails a safety check comes back with ``skip`` set. ``wiki_target`` is the wiki's
    resolved tree (default: the wiki path itself). Reads nothing from disk."""
    entries = [h if isinstance(h, HistoryEntry) else HistoryEntry.parse(h) for h in history]
    return select([e for e in entries if e is not None], wiki, keep, state_dir=state_dir,
                   wiki_target=wiki_target).candidates


def abs_path(p: str | Path) -> str:
    return os.path.normpath(os.path.abspath(p))


def inside(path: str, root: str) -> bool:
    """``path`` strictly inside ``root`` (both normalised absolute paths)."""
    return path != root and path.startswith(root.rstrip("/") + "/")


def overlaps(a: str, b: str) -> bool:
    return a == b or inside(a, b) or inside(b, a)


def _entry_paths(h: HistoryEntry, parent: str) -> list[str]:
    """Every path an entry names, absolute (a relative link target is relative to the wiki's directory)."""
    out = [os.path.normpath(os.path.join(parent, v)) for v in h.paths.values()]
    if h.wiki:
        out.append(os.path.normpath(h.wiki))
    return out


def select(history: list[HistoryEntry], wiki: Path, keep: int, *, state_dir: Path | None,
            wiki_target: str | None) -> Selection:
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    wiki_s = abs_path(wiki)
    state = abs_path(state_dir if state_dir is not None else state_dir_for(Path(wiki_s)))
    scope = _Scope(wiki=wiki_s, parent=os.path.dirname(wiki_s), name=os.path.basename(wiki_s), state=state,
                   target=abs_path(wiki_target) if wiki_target else wiki_s, backups=os.path.join(state, "backups"))
    runs = _sort_out(history, scope.wiki, keep)
    protected = _protected(scope, runs)
    return Selection(candidates=_vet(_candidates(scope, runs), scope, protected), protected=protected,
                      roots=scope.roots, kept=runs.kept)


def _sort_out(entries: list[HistoryEntry], wiki: str, keep: int) -> _Runs:
    # Only entries that look like runs (an id, a paths object) take part; anything else in the file is ignored.
    mine = [h for h in entries if h.wiki == wiki and h.id is not None and h.has_paths]
    rollbacks = [h for h in mine if h.is_rollback]
    upgrades = [h for h in mine if not h.is_rollback]
    finished = [u for u in standing_upgrades(entries, wiki) if any(u is x for x in upgrades)]
    return _Runs(entries=entries, mine=mine, kept=finished[-keep:] if keep else [],
                 rolled_back={r.rollback_of for r in rollbacks if r.state == "done"},
                 in_doubt={r.rollback_of for r in rollbacks if r.state != "done"},
                 by_id={u.id: u for u in upgrades})


def _protected(scope: _Scope, runs: _Runs) -> list[tuple[str, str]]:
    """Paths nothing removed may equal, hold or lie inside, each with what needs it."""
    protected: list[tuple[str, str]] = [(scope.wiki, "the wiki"), (scope.target, "the wiki's tree")]
    for u in runs.kept:
        protected += [(p, f"kept for rollback ({u.label})") for p in _entry_paths(u, scope.parent)]
        if u.id is not None:
            protected.append((os.path.join(scope.backups, u.id), f"kept for rollback ({u.label})"))
    for h in runs.mine:
        if h.id in runs.in_doubt or (h.is_rollback and h.state != "done"):
            protected += [(p, f"a rollback failed ({h.label}); check the wiki by hand")
                          for p in _entry_paths(h, scope.parent)]
    for h in runs.entries:
        if h.wiki != scope.wiki:
            protected += [(p, f"another wiki's history ({h.wiki})") for p in _entry_paths(h, scope.parent)]
            if h.id is not None:
                protected.append((os.path.join(scope.backups, h.id), f"another wiki's backup ({h.wiki})"))
    return protected


def _candidates(scope: _Scope, runs: _Runs) -> list[tuple[Removal, Check]]:
    """What the history says may go, each with the check its path must pass (mwrelease's name for it)."""
    parent, name = scope.parent, scope.name
    raw: list[tuple[Removal, Check]] = []

    def named(prefix: str) -> Check:
        def check(p: str) -> str | None:
            if os.path.dirname(p) != parent or not os.path.basename(p).startswith(prefix):
                return f"not named {os.path.join(parent, prefix)}*, as mwrelease names it"
            return None
        return check

    def under_parent(prefix: str = "") -> Check:
        def check(p: str) -> str | None:
            if not inside(p, parent):
                return f"outside the wiki's directory {parent}"
            if prefix and not os.path.basename(p).startswith(prefix):
                return f"not named {prefix}*, as mwrelease names it"
            return None
        return check

    def add(h: HistoryEntry, path: str | None, kind: str, what: str, check: Check) -> None:
        if path is not None:
            raw.append((Removal(path=path, kind=kind, what=what, entry=h.id), check))

    def add_backup(h: HistoryEntry) -> None:
        if h.path("backup") is None:
            return  # the run stopped before its backup step
        hid = h.id
        if hid is None or not _SAFE_ID.match(hid) or ".." in hid:
            raw.append((Removal(path=str(h.path("backup")), kind=BACKUP, what=f"backup of {h.label}"),
                        lambda p: "the history entry's id is not a plain name"))
            return
        # Always <state>/backups/<id>: derived, so a path edited into history.json cannot redirect it.
        add(h, os.path.join(scope.backups, hid), BACKUP, f"database backup of {h.label}", lambda p: None)

    for h in runs.mine:
        if h.id in runs.in_doubt or any(h is k for k in runs.kept):
            continue
        layout = h.layout
        if layout not in ("directory", "symlink"):
            continue
        if h.is_rollback:
            if h.state != "done":
                continue
            if layout == "directory":
                add(h, h.path("parked"), PARKED_TREE, f"tree replaced by the {h.label}",
                    named(f"{name}.mwrelease-rolledback-"))
            else:
                before = h.path("link_target_before")
                undone = runs.by_id.get(h.rollback_of)
                if before is not None:
                    before = os.path.normpath(os.path.join(parent, before))
                    new = undone.path("new_tree") if undone else None
                    same = new is not None and os.path.normpath(new) == before

                    def parked_check(p: str, same: bool = same) -> str | None:
                        return under_parent("mediawiki-")(p) or (
                            None if same else "not the new tree of the upgrade this rollback undid")
                    add(h, before, PARKED_TREE, f"tree replaced by the {h.label}", parked_check)
            continue
        if h.state == "done" and h.id not in runs.rolled_back:
            if layout == "directory":
                add(h, h.path("aside"), OLD_TREE, f"old tree of MediaWiki {h.from_version} ({h.label})",
                    named(f"{name}.mwrelease-old-"))
            else:
                add(h, h.path("old_tree"), OLD_TREE, f"old tree of MediaWiki {h.from_version} ({h.label})",
                    under_parent())
            add_backup(h)
        elif h.state == "done":  # rolled back: its old tree serves the wiki again (or a later upgrade names it)
            add_backup(h)
        elif h.state == "rolled-back":  # failed and undone
            check = named(f".{name}.mwrelease-new-") if layout == "directory" else under_parent("mediawiki-")
            add(h, h.path("new_tree"), NEW_TREE, f"unpacked tree of the failed {h.label}", check)
            add_backup(h)
    return raw


def _vet(raw: list[tuple[Removal, Check]], scope: _Scope, protected: list[tuple[str, str]]) -> list[Removal]:
    """Each candidate once, skipped with the reason when its path is unclean, misnamed, outside the roots,
    overlaps a protected path or holds a root."""
    out: list[Removal] = []
    seen: set[str] = set()
    roots = scope.roots
    for r, check in raw:
        p = r.path
        if not os.path.isabs(p) or os.path.normpath(p) != p:
            reason: str | None = "the recorded path is not a clean absolute path"
        else:
            reason = check(p)
        if reason is None and not any(inside(p, root) for root in roots):
            reason = f"outside the wiki's directory {scope.parent} and the state directory {scope.state}"
        if reason is None:
            reason = next((f"overlaps {q}: {why}" for q, why in protected if overlaps(p, q)), None)
        if reason is None:
            reason = next((f"is or holds {root}" for root in roots if root == p or inside(root, p)), None)
        if p in seen:
            continue
        seen.add(p)
        out.append(r if reason is None else r.skipped(reason))
    return out
