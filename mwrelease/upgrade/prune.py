"""`mwrelease prune`: remove what earlier upgrades left behind, keeping what `mwrelease rollback` needs.

Every upgrade leaves the old tree (directory layout: ``<wiki>.mwrelease-old-<version>`` beside the wiki;
symlink layout: the tree the link pointed to before), a database backup in ``<state>/backups/<id>`` and
the artifact in ``<state>/downloads``. A rollback parks the tree it replaced
(``<wiki>.mwrelease-rolledback-<version>``; symlink layout: the upgraded tree stays where it was), and a
failed run whose clean-up did not finish may leave its unpacked ``.<wiki>.mwrelease-new-<version>``.

``prune_plan.plan_prune`` chooses from the history alone (no disk access): the old tree and backup of the newest
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
import shutil
import socket
import stat
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import ConfigError, NothingToDo, UpgradeCancelled, UpgradeError
from mwrelease.fsutil import now
from mwrelease.upgrade.inspect import require_wiki
from mwrelease.upgrade.journal import (HistoryEntry, Journal, append_history, load_history, mark_history,
                                       parse_history)
from mwrelease.upgrade.statedir import open_state, wiki_lock
from mwrelease.upgrade.prune_plan import (BACKUP, DOWNLOAD, NEW_TREE, OLD_TREE, PARKED_TREE, Removal, abs_path, inside,
                                          overlaps, plan_prune, select)

Say = Callable[[str], None]


# --- checking on disk, measuring, removing -----------------------------------------------------

def _refuse_while_journaled(state: Path, wiki: Path, history: list[HistoryEntry],
                            dry_run: bool) -> list[HistoryEntry]:
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
    if any(h.id == j.id for h in history):
        if not dry_run:
            j.path.unlink(missing_ok=True)
        return history
    if not dry_run:
        append_history(state, j.data)
        j.path.unlink(missing_ok=True)
    return history + parse_history([j.data])


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
    if not any(inside(real, x) for x in real_roots):
        return r.skipped(f"resolves to {real}, outside the wiki's directory and the state directory")
    if any(x == real or inside(x, real) for x in real_roots):
        return r.skipped(f"resolves to {real}, which holds the wiki's directory or the state directory")
    for q, why in protected:
        if os.path.lexists(q) and overlaps(real, os.path.realpath(q)):
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
          say: Say | None = None, confirm: Callable[[list[dict[str, Any]]], bool] | None = None) -> dict[str, Any]:
    """Remove (or with ``dry_run`` list) what ``plan_prune`` chose, after checking each path on disk.
    ``confirm`` gets the removals (path, what, bytes) before anything is removed; False cancels.

    Raises ConfigError when ``wiki`` is no wiki or while a journal exists, NothingToDo when nothing is left
    to remove, UpgradeCancelled when ``confirm`` says no."""
    require_wiki(wiki)
    wiki = Path(abs_path(wiki))
    state = open_state(wiki, state_dir, say=say, create=not dry_run)
    with wiki_lock(state, wiki, take=not dry_run):
        return _prune(wiki, state, keep=keep, dry_run=dry_run, say=say, confirm=confirm)


def _prune(wiki: Path, state: Path, *, keep: int, dry_run: bool, say: Say | None,
           confirm: Callable[[list[dict[str, Any]]], bool] | None) -> dict[str, Any]:
    try:
        history = parse_history(load_history(state))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The upgrade history {state / 'history.json'} is damaged ({exc}); prune decides from it, "
                          "so it removes nothing.", hint="Repair or move that file, then run prune again.") from None
    history = _refuse_while_journaled(state, wiki, history, dry_run)
    sel = select(history, wiki, keep, state_dir=state, wiki_target=os.path.realpath(wiki))
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
    if not dry_run and confirm is not None and not confirm([{**r.to_json(), "bytes": n} for r, n in zip(todo, sizes)]):
        raise UpgradeCancelled("Prune cancelled; nothing was removed.")
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
        warnings.append(f"the kept {sel.kept[-1].label} has lost its old tree or backup already: "
                        "`mwrelease rollback` cannot use it")
    return {"wiki": str(wiki), "state_dir": str(state), "keep": keep, "dry_run": dry_run,
            "removals": removed, "bytes_freed": sum(r["bytes"] for r in removed),
            "skipped": [r.to_json() for r in skipped], "kept": kept,
            "rollback_possible": rollback_possible if keep else False, "warnings": warnings}


def _kept_json(h: HistoryEntry, state: Path, wiki: Path) -> dict[str, Any]:
    old = h.path("aside") if h.layout == "directory" else h.path("old_tree")
    backup = str(state / "backups" / str(h.id))
    return {"upgrade": h.id, "from": h.raw.get("from"), "to": h.raw.get("to"), "old_tree": old,
            "old_tree_exists": bool(old) and os.path.isdir(os.path.join(wiki.parent, old or "")),
            "backup": backup, "backup_exists": os.path.isfile(os.path.join(backup, "backup.json"))}


def human(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


__all__ = ["BACKUP", "DOWNLOAD", "NEW_TREE", "OLD_TREE", "PARKED_TREE", "Removal", "plan_prune", "prune", "measure",
           "human"]
