"""`mwrelease prune`: remove what earlier upgrades left behind, keeping what `mwrelease rollback` needs.

Every upgrade leaves the old tree (directory layout: ``<wiki>.mwrelease-old-<version>`` beside the wiki;
symlink layout: the tree the link pointed to before), a database backup in ``<state>/backups/<id>`` and
the artifact in ``<state>/downloads``. A rollback parks the tree it replaced
(``<wiki>.mwrelease-rolledback-<version>``; symlink layout: the upgraded tree stays where it was), and a
failed run whose clean-up did not finish may leave its unpacked ``.<wiki>.mwrelease-new-<version>``.

``plan_prune`` chooses from the history alone (no disk access): the old tree and backup of the newest
``keep`` finished upgrades stay, older ones go, and so do parked trees, leftover new trees and the
backups of failed or rolled-back runs. ``prune`` refuses while a journal exists, checks every path on
disk again, measures and removes.

A path from history.json is removed only when it is a clean absolute path strictly inside the wiki's
parent directory or the state directory (also after resolving symlinks), has the name mwrelease gives
such a path, is not a symlink, is not the wiki or its tree, and neither holds nor lies inside the wiki,
the state directory or a path that a kept upgrade, a failed rollback or another wiki's history still
names. Anything that fails a check is reported as skipped, never removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import ConfigError, NothingToDo, UpgradeError
from mwrelease.upgrade.journal import (Journal, append_history, load_history, mark_history, now, standing_upgrades,
                                       state_dir_for)

Say = Callable[[str], None]

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


@dataclass
class _Selection:
    candidates: list[Removal]
    protected: list[tuple[str, str]]  # (path, what needs it): nothing removed may equal, hold or lie inside it
    roots: list[str]  # everything removed lies strictly inside one of these
    kept: list[dict[str, Any]]  # the history entries whose old tree and backup stay, oldest first


# --- choosing (pure) ---------------------------------------------------------------------------

def plan_prune(history: list[dict[str, Any]], wiki: Path, keep: int, *, state_dir: Path | None = None,
               wiki_target: str | None = None) -> list[Removal]:
    """What to remove for ``wiki`` given its history (all entries of the state directory, oldest first).

    Keeps the old tree and backup of the newest ``keep`` finished (and not rolled back) upgrades; a
    removal that fails a safety check comes back with ``skip`` set. ``wiki_target`` is the wiki's
    resolved tree (default: the wiki path itself). Reads nothing from disk."""
    return _select(history, wiki, keep, state_dir=state_dir, wiki_target=wiki_target).candidates


def _abs(p: str | Path) -> str:
    return os.path.normpath(os.path.abspath(p))


def _inside(path: str, root: str) -> bool:
    """``path`` strictly inside ``root`` (both normalised absolute paths)."""
    return path != root and path.startswith(root.rstrip("/") + "/")


def _overlaps(a: str, b: str) -> bool:
    return a == b or _inside(a, b) or _inside(b, a)


def _entry_paths(h: dict[str, Any], parent: str) -> list[str]:
    """Every path an entry names, absolute (a relative link target is relative to the wiki's directory)."""
    out = []
    paths = h.get("paths")
    if isinstance(paths, dict):
        for v in paths.values():
            if isinstance(v, str) and v:
                out.append(os.path.normpath(os.path.join(parent, v)))
    w = h.get("wiki")
    if isinstance(w, str) and w:
        out.append(os.path.normpath(w))
    return out


def _path(h: dict[str, Any], key: str) -> str | None:
    paths = h.get("paths")
    v = paths.get(key) if isinstance(paths, dict) else None
    return v if isinstance(v, str) and v else None


def _label(h: dict[str, Any]) -> str:
    kind = "rollback" if h.get("kind") == "rollback" else "upgrade"
    when = h.get("finished") or h.get("started") or "?"
    return f"{kind} {h.get('from')} -> {h.get('to')} of {when}"


def _select(history: list[dict[str, Any]], wiki: Path, keep: int, *, state_dir: Path | None,
            wiki_target: str | None) -> _Selection:
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    wiki_s = _abs(wiki)
    parent, name = os.path.dirname(wiki_s), os.path.basename(wiki_s)
    state = _abs(state_dir if state_dir is not None else state_dir_for(Path(wiki_s)))
    target = _abs(wiki_target) if wiki_target else wiki_s
    backups_dir = os.path.join(state, "backups")
    entries = [h for h in history if isinstance(h, dict)]
    # Only entries that look like runs take part (an id, a paths object); anything else in the file is ignored.
    mine = [h for h in entries if h.get("wiki") == wiki_s and isinstance(h.get("id"), str)
            and isinstance(h.get("paths"), dict)]
    rollbacks = [h for h in mine if h.get("kind") == "rollback"]
    upgrades = [h for h in mine if h.get("kind") != "rollback"]
    rolled_back = {r.get("rollback_of") for r in rollbacks if r.get("state") == "done"}
    # A rollback that failed half way: the wiki may be on either tree; leave everything of it alone.
    in_doubt = {r.get("rollback_of") for r in rollbacks if r.get("state") != "done"}
    finished = [u for u in standing_upgrades(entries, wiki_s) if any(u is x for x in upgrades)]
    kept = finished[-keep:] if keep else []

    protected: list[tuple[str, str]] = [(wiki_s, "the wiki"), (target, "the wiki's tree")]
    for u in kept:
        protected += [(p, f"kept for rollback ({_label(u)})") for p in _entry_paths(u, parent)]
        if isinstance(u.get("id"), str):
            protected.append((os.path.join(backups_dir, u["id"]), f"kept for rollback ({_label(u)})"))
    for h in mine:
        if h.get("id") in in_doubt or (h.get("kind") == "rollback" and h.get("state") != "done"):
            protected += [(p, f"a rollback failed ({_label(h)}); check the wiki by hand")
                          for p in _entry_paths(h, parent)]
    for h in entries:
        if h.get("wiki") != wiki_s:
            protected += [(p, f"another wiki's history ({h.get('wiki')})") for p in _entry_paths(h, parent)]
            if isinstance(h.get("id"), str):
                protected.append((os.path.join(backups_dir, h["id"]), f"another wiki's backup ({h.get('wiki')})"))
    roots = [parent, state]

    by_id = {u.get("id"): u for u in upgrades}
    raw: list[tuple[Removal, Callable[[str], str | None]]] = []

    def named(prefix: str) -> Callable[[str], str | None]:
        def check(p: str) -> str | None:
            if os.path.dirname(p) != parent or not os.path.basename(p).startswith(prefix):
                return f"not named {os.path.join(parent, prefix)}*, as mwrelease names it"
            return None
        return check

    def under_parent(prefix: str = "") -> Callable[[str], str | None]:
        def check(p: str) -> str | None:
            if not _inside(p, parent):
                return f"outside the wiki's directory {parent}"
            if prefix and not os.path.basename(p).startswith(prefix):
                return f"not named {prefix}*, as mwrelease names it"
            return None
        return check

    def add(h: dict[str, Any], path: str | None, kind: str, what: str, check: Callable[[str], str | None]) -> None:
        if path is not None:
            raw.append((Removal(path=path, kind=kind, what=what, entry=h.get("id")
                                if isinstance(h.get("id"), str) else None), check))

    def add_backup(h: dict[str, Any]) -> None:
        if _path(h, "backup") is None:
            return  # the run stopped before its backup step
        hid = h.get("id")
        if not isinstance(hid, str) or not _SAFE_ID.match(hid) or ".." in hid:
            raw.append((Removal(path=str(_path(h, "backup")), kind=BACKUP, what=f"backup of {_label(h)}"),
                        lambda p: "the history entry's id is not a plain name"))
            return
        # Always <state>/backups/<id>: derived, so a path edited into history.json cannot redirect it.
        add(h, os.path.join(backups_dir, hid), BACKUP, f"database backup of {_label(h)}", lambda p: None)

    for h in mine:
        if h.get("id") in in_doubt or any(h is k for k in kept):
            continue
        layout = h.get("layout")
        if layout not in ("directory", "symlink"):
            continue
        if h.get("kind") == "rollback":
            if h.get("state") != "done":
                continue
            if layout == "directory":
                add(h, _path(h, "parked"), PARKED_TREE, f"tree replaced by the {_label(h)}",
                    named(f"{name}.mwrelease-rolledback-"))
            else:
                before = _path(h, "link_target_before")
                undone = by_id.get(h.get("rollback_of"))
                if before is not None:
                    before = os.path.normpath(os.path.join(parent, before))
                    new = _path(undone, "new_tree") if undone else None
                    same = new is not None and os.path.normpath(new) == before

                    def parked_check(p: str, same: bool = same) -> str | None:
                        return under_parent("mediawiki-")(p) or (
                            None if same else "not the new tree of the upgrade this rollback undid")
                    add(h, before, PARKED_TREE, f"tree replaced by the {_label(h)}", parked_check)
            continue
        state_ = h.get("state")
        if state_ == "done" and h.get("id") not in rolled_back:
            if layout == "directory":
                add(h, _path(h, "aside"), OLD_TREE, f"old tree of MediaWiki {h.get('from')} ({_label(h)})",
                    named(f"{name}.mwrelease-old-"))
            else:
                add(h, _path(h, "old_tree"), OLD_TREE, f"old tree of MediaWiki {h.get('from')} ({_label(h)})",
                    under_parent())
            add_backup(h)
        elif state_ == "done":  # rolled back: its old tree serves the wiki again (or a later upgrade names it)
            add_backup(h)
        elif state_ == "rolled-back":  # failed and undone
            check = named(f".{name}.mwrelease-new-") if layout == "directory" else under_parent("mediawiki-")
            add(h, _path(h, "new_tree"), NEW_TREE, f"unpacked tree of the failed {_label(h)}", check)
            add_backup(h)

    out: list[Removal] = []
    seen: set[str] = set()
    for r, check in raw:
        p = r.path
        if not os.path.isabs(p) or os.path.normpath(p) != p:
            reason: str | None = "the recorded path is not a clean absolute path"
        else:
            reason = check(p)
        if reason is None and not any(_inside(p, root) for root in roots):
            reason = f"outside the wiki's directory {parent} and the state directory {state}"
        if reason is None:
            reason = next((f"overlaps {q}: {why}" for q, why in protected if _overlaps(p, q)), None)
        if reason is None:
            reason = next((f"is or holds {root}" for root in roots if root == p or _inside(root, p)), None)
        if p in seen:
            continue
        seen.add(p)
        out.append(r if reason is None else r.skipped(reason))
    return _Selection(candidates=out, protected=protected, roots=roots, kept=kept)


# --- checking on disk, measuring, removing -----------------------------------------------------

def _refuse_while_journaled(state: Path, wiki: Path, history: list[dict[str, Any]],
                            dry_run: bool) -> list[dict[str, Any]]:
    """ConfigError while an upgrade or rollback runs or was interrupted. A journal of a run that ended but
    was not yet moved to the history (killed in between) is filed there, as the next upgrade would."""
    try:
        j = Journal.load(state)
    except UpgradeError as exc:
        raise ConfigError(f"{exc.message} prune removes nothing while that is unclear.", hint=exc.hint) from None
    if j is None:
        return history
    what = f"{j.data.get('kind') or 'upgrade'} {j.data.get('from')} -> {j.data.get('to')} of {j.data.get('wiki')}"
    if j.data.get("state") == "running":
        if j.owner_alive():
            raise ConfigError(f"An mwrelease {what} is running right now (pid {j.data.get('pid')}, journal {j.path}); "
                              "prune removes nothing while an upgrade runs, because the old tree and backup are what "
                              "undo it.", hint="Wait for it to finish, then run prune again.")
        steps = j.data.get("steps") or []
        last = steps[-1].get("name") if steps and isinstance(steps[-1], dict) else "start"
        host = j.data.get("host")
        where = f" on host {host}" if host and host != socket.gethostname() else ""
        raise ConfigError(f"The {what} stopped during step {last!r}{where} without finishing (journal {j.path}); "
                          "its old tree and backup are what undo it, so prune removes nothing until it is resolved: "
                          f"run `mwrelease rollback --wiki {j.data.get('wiki')}` first (or the upgrade again, which "
                          "rolls it back before it starts), then prune.",
                          hint="If that upgrade is still running on another host, wait for it instead." if where
                          else None)
    if any(h.get("id") == j.id for h in history if isinstance(h, dict)):
        if not dry_run:
            j.path.unlink(missing_ok=True)
        return history
    if not dry_run:
        append_history(state, j.data)
        j.path.unlink(missing_ok=True)
    return history + [j.data]


def _looks_like_mediawiki(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "includes")) and os.path.isfile(os.path.join(path, "index.php"))


def _check_on_disk(r: Removal, wiki: Path, roots: list[str], protected: list[tuple[str, str]]) -> Removal | None:
    """None when the path no longer exists; else ``r``, or ``r`` skipped with the reason."""
    if r.skip is not None:
        return r if os.path.lexists(r.path) else None
    try:
        st = os.lstat(r.path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return r.skipped(f"cannot be examined: {exc.strerror}")
    if stat.S_ISLNK(st.st_mode):
        return r.skipped("is a symbolic link")
    if r.kind == DOWNLOAD:
        if not stat.S_ISREG(st.st_mode):
            return r.skipped("not a regular file")
    elif not stat.S_ISDIR(st.st_mode):
        return r.skipped("not a directory")
    real = os.path.realpath(r.path)
    real_roots = [os.path.realpath(x) for x in roots]
    if not any(_inside(real, x) for x in real_roots):
        return r.skipped(f"resolves to {real}, outside the wiki's directory and the state directory")
    if any(x == real or _inside(x, real) for x in real_roots):
        return r.skipped(f"resolves to {real}, which holds the wiki's directory or the state directory")
    for q, why in protected:
        if os.path.lexists(q) and _overlaps(real, os.path.realpath(q)):
            return r.skipped(f"resolves to {real}, which overlaps {q}: {why}")
    aside = os.path.dirname(r.path) == str(wiki.parent) and \
        os.path.basename(r.path).startswith(f"{wiki.name}.mwrelease-old-")
    if r.kind == OLD_TREE and not aside and not _looks_like_mediawiki(r.path):
        # The symlink layout's old tree has the admin's own name: it must at least look like MediaWiki.
        return r.skipped("does not look like a MediaWiki tree (no includes/ and index.php)")
    if not os.access(os.path.dirname(r.path), os.W_OK | os.X_OK):
        return r.skipped(f"no permission to remove it from {os.path.dirname(r.path)}; run prune as the wiki's owner")
    return r


def measure(paths: list[str]) -> list[int]:
    """Bytes on disk each path frees (st_blocks, as du counts them), removed together: a file hard-linked
    from outside the set (an uploaded file that the wiki still has) frees nothing and is counted nowhere;
    one hard-linked between two removed paths counts once."""
    inodes: dict[tuple[int, int], list[int]] = {}  # -> [links seen, nlink, bytes, index of first path]
    dirs = [0] * len(paths)

    def visit(p: str, i: int) -> None:
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            dirs[i] += st.st_blocks * 512  # directories cannot be hard-linked
            with os.scandir(p) as it:
                for e in it:
                    visit(e.path, i)
            return
        key = (st.st_dev, st.st_ino)
        rec = inodes.get(key)
        if rec is None:
            inodes[key] = [1, st.st_nlink, st.st_blocks * 512, i]
        else:
            rec[0] += 1

    for i, p in enumerate(paths):
        try:
            visit(p, i)
        except OSError:
            pass
    freed = dirs[:]
    for seen, nlink, size, i in inodes.values():
        if seen >= nlink:
            freed[i] += size
    return freed


def _rmtree(path: str) -> None:
    def onerror(func: Callable[..., Any], p: str, exc_info: Any) -> None:
        # A read-only directory inside the tree (some vendor/ packages ship 0555): its owner may open it up.
        if isinstance(exc_info[1], PermissionError) and func in (os.unlink, os.rmdir, os.remove):
            d = os.path.dirname(p)
            os.chmod(d, stat.S_IMODE(os.lstat(d).st_mode) | stat.S_IRWXU)
            func(p)
            return
        raise exc_info[1]
    shutil.rmtree(path, onerror=onerror)


def prune(wiki: Path, *, keep: int = 1, state_dir: Path | None = None, dry_run: bool = False,
          say: Say | None = None) -> dict[str, Any]:
    """Remove (or with ``dry_run`` list) what ``plan_prune`` chose, after checking each path on disk.

    Raises ConfigError while a journal exists and NothingToDo when nothing is left to remove."""
    wiki = Path(_abs(wiki))
    state = Path(_abs(state_dir_for(wiki, state_dir)))
    try:
        history = load_history(state)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The upgrade history {state / 'history.json'} is damaged ({exc}); prune decides from it, "
                          "so it removes nothing.", hint="Repair or move that file, then run prune again.") from None
    history = _refuse_while_journaled(state, wiki, history, dry_run)
    sel = _select(history, wiki, keep, state_dir=state, wiki_target=os.path.realpath(wiki))
    candidates = list(sel.candidates)
    dl = state / "downloads"
    if dl.is_dir():
        candidates += [Removal(path=str(p), kind=DOWNLOAD, what=f"downloaded artifact {p.name}")
                       for p in sorted(dl.iterdir())]
    checked = [c for c in (_check_on_disk(r, wiki, sel.roots, sel.protected) for r in candidates) if c is not None]
    todo = [r for r in checked if r.skip is None]
    skipped = [r for r in checked if r.skip is not None]
    kept = [_kept_json(h, state, wiki) for h in sel.kept]
    rollback_possible = bool(kept) and kept[-1]["old_tree_exists"] and kept[-1]["backup_exists"]
    if not todo:
        raise NothingToDo(f"Nothing to prune for {wiki}: no old trees, backups, parked trees or downloads beyond "
                          f"what rollback needs (--keep {keep}).",
                          details=[f"skipped {r.path}: {r.skip}" for r in skipped],
                          hint="--keep 0 also removes the last upgrade's old tree and backup (rollback is then "
                               "impossible)." if keep else None)
    sizes = measure([r.path for r in todo])
    removed: list[dict[str, Any]] = []
    warnings: list[str] = []
    pruned_entries: set[str] = set()
    for r, size in zip(todo, sizes):
        if not dry_run:
            if (state / "journal.json").exists():  # an upgrade started meanwhile: stop touching anything
                warnings.append("an upgrade started while prune was running; prune stopped")
                break
            try:
                if r.kind == DOWNLOAD:
                    os.unlink(r.path)
                else:
                    _rmtree(r.path)
            except OSError as exc:
                warnings.append(f"could not remove {r.path}: {exc}")
                continue
            if say:
                say(f"removed {r.path} ({human(size)})")
            if r.entry and r.kind != DOWNLOAD:
                pruned_entries.add(r.entry)
        removed.append({**r.to_json(), "bytes": size})
    if pruned_entries:
        mark_history(state, pruned_entries, {"pruned": now()}, wiki=str(wiki))
    if keep == 0:
        warnings.append("--keep 0: no upgrade keeps its old tree and backup, so `mwrelease rollback` "
                        + ("would then be" if dry_run else "is now") + " impossible")
    elif kept and not rollback_possible:
        warnings.append(f"the kept {_label(sel.kept[-1])} has lost its old tree or backup already: "
                        "`mwrelease rollback` cannot use it")
    return {"wiki": str(wiki), "state_dir": str(state), "keep": keep, "dry_run": dry_run,
            "removals": removed, "bytes_freed": sum(r["bytes"] for r in removed),
            "skipped": [r.to_json() for r in skipped], "kept": kept,
            "rollback_possible": rollback_possible if keep else False, "warnings": warnings}


def _kept_json(h: dict[str, Any], state: Path, wiki: Path) -> dict[str, Any]:
    old = _path(h, "aside") if h.get("layout") == "directory" else _path(h, "old_tree")
    backup = str(state / "backups" / str(h.get("id")))
    return {"upgrade": h.get("id"), "from": h.get("from"), "to": h.get("to"), "old_tree": old,
            "old_tree_exists": bool(old) and os.path.isdir(os.path.join(wiki.parent, old or "")),
            "backup": backup, "backup_exists": os.path.isfile(os.path.join(backup, "backup.json"))}


def human(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


__all__ = ["Removal", "plan_prune", "prune", "measure", "human"]
