"""`mwrelease rollback`: undo an interrupted upgrade, or go back to the release before the last finished one
(its old tree and database backup), with the same tree switch an upgrade uses."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import NothingToDo, UpgradeError
from mwrelease.upgrade import backup as bk
from mwrelease.upgrade.health import check_health
from mwrelease.upgrade.inspect import inspect_wiki, require_wiki
from mwrelease.upgrade.journal import HistoryEntry, Journal, read_history, standing_upgrades
from mwrelease.upgrade.statedir import open_state, wiki_lock
from mwrelease.upgrade.processes import describe, log_tail, reload_server
from mwrelease.upgrade.settings import readonly_off, readonly_on
from mwrelease.upgrade.switch import switch
from mwrelease.upgrade.undo import recover

Say = Callable[[str], None]


def rollback(wiki: Path, *, state_dir: Path | None, say: Say, php: str = "php", url: str | None = None,
             skip_http: bool = False, reload_command: str | None = None) -> dict[str, Any]:
    """Undo an interrupted upgrade, or else go back to the release before the last finished upgrade; holds
    the wiki's lock throughout. UpgradeError when the rolled-back wiki fails its health check."""
    wiki = Path(os.path.abspath(wiki))
    state = open_state(wiki, state_dir, say=say)
    with wiki_lock(state, wiki):
        return _rollback(wiki, state, say=say, php=php, url=url, skip_http=skip_http, reload_command=reload_command)


def _rollback(wiki: Path, state: Path, *, say: Say, php: str, url: str | None, skip_http: bool,
              reload_command: str | None) -> dict[str, Any]:
    rec = recover(wiki, state, say, php=php, reload_command=reload_command)
    if rec is not None:
        return {**rec, "action": "rolled back an interrupted upgrade"}
    last = last_upgrade(read_history(state), wiki)
    if last is None:
        require_wiki(wiki)  # "not a wiki" (exit 3) is not "nothing to roll back"
        raise NothingToDo(f"There is no finished upgrade of {wiki} to roll back.",
                          hint="`mwrelease status --wiki ...` lists the upgrades and backups.")
    if last.id is None or last.from_version is None or last.to_version is None or last.layout is None:
        raise UpgradeError(f"The history entry of the last upgrade of {wiki} in {state} is damaged (no id, from, to "
                           "or layout); nothing was changed.", hint="`mwrelease status --wiki ...` shows the history.")
    frm, to, layout = last.from_version, last.to_version, last.layout
    bdir = Path(last.path("backup") or "")
    old = Path(last.path("aside") or last.path("old_tree") or "")
    gone = [what for what, ok in ((f"the database backup {bdir}", (bdir / "backup.json").is_file()),
                                  (f"the old tree {old}", layout != "directory" or old.is_dir())) if not ok]
    if gone:
        pruned = f" (removed by `mwrelease prune` at {last.pruned})" if last.pruned else ""
        raise UpgradeError(f"Cannot roll back the upgrade {frm} -> {to}: {' and '.join(gone)} "
                           f"{'is' if len(gone) == 1 else 'are'} gone{pruned}. Nothing was changed.",
                           hint="Restore from your own backups, or stay on this release.")
    info = json.loads((bdir / "backup.json").read_text())
    inst = inspect_wiki(wiki, php=php, check_local_changes=False)
    if inst.core_version != to:
        raise UpgradeError(f"The wiki is on MediaWiki {inst.core_version}, but the last upgrade went to {to}; "
                           "rolling back now would restore a database that does not match. Nothing was changed.",
                           hint="`mwrelease status --wiki ...` shows the history.")
    old_php = last.php_before or php  # a rollback across a PHP switch switches back
    j = Journal.start(state, wiki=wiki, layout=layout, from_version=inst.core_version, to_version=frm)
    j.data["rollback_of"] = last.id
    j.data["php"] = {"before": php, "after": old_php}
    log = state / "logs" / f"{j.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        j.begin("readonly")
        readonly_on(inst.tree, "This wiki is being rolled back to its previous MediaWiki release.")
        reload_server(reload_command, log, php=php)
        j.done("readonly")
        j.begin("switch")
        switch(j, wiki, layout=layout, tree=last.paths["old_tree"] if layout == "symlink" else old,
               park_as=f"{wiki.name}.mwrelease-rolledback-{inst.core_version}", park_key="parked")
        j.done("switch")
        j.begin("restore")
        bk.restore_database(inst.db, bdir / "database", info["database"], log=log)
        j.done("restore")
        readonly_off(wiki.resolve())
        reload_server(reload_command, log, php=old_php)
        j.begin("health")
        old_inst = inspect_wiki(wiki, php=old_php, check_local_changes=False)
        health = check_health(wiki, frm, [e.name for e in old_inst.loaded], url=url or old_inst.server_url,
                              skip_http=skip_http, php=old_php)
        j.done("health", "; ".join(health.checks + health.problems))
        j.finish("done", extra={"kind": "rollback", "total_seconds": round(time.monotonic() - t0, 2)})
    except BaseException as exc:
        j.finish("failed", error=describe(exc))
        raise UpgradeError(f"Rolling back to MediaWiki {frm} failed: {describe(exc)}.", details=log_tail(log),
                           hint=f"The backup is in {bdir}; the journal history in {state} says what was done.") from None
    if not health.ok:
        raise UpgradeError(f"{wiki} was switched back to MediaWiki {frm} and its database restored from the backup, "
                           "but the health check of the restored wiki failed.", details=health.problems,
                           hint="Check the web server (pass --reload-command if it caches PHP code) and the log "
                                f"{log}.")
    say(f"{wiki} is on MediaWiki {frm} again, with the database as it was before the upgrade "
        f"({'health check passed' if health.ok else 'health check: ' + '; '.join(health.problems)}).")
    return {"action": "rolled back the last upgrade", "upgrade": last.id, "version": frm,
            "health": health.to_json(), "note": "edits made after that upgrade are not in the restored database"}


def last_upgrade(history: list[HistoryEntry], wiki: Path) -> HistoryEntry | None:
    """What `rollback` undoes: the newest upgrade still standing. Rolling back twice goes back two upgrades
    (1.43 -> 1.39 -> 1.35 after a chain)."""
    standing = standing_upgrades(history, str(wiki))
    return standing[-1] if standing else None
