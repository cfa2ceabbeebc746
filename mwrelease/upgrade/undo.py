"""Undo an upgrade stop from its journal alone, so the next run can finish what a killed run left:
switch back, restore the database, remove read-only, delete the new tree."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import UpgradeError
from mwrelease.upgrade import backup as bk
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.journal import Journal
from mwrelease.upgrade.processes import kill_group, reload_server
from mwrelease.upgrade.settings import readonly_off
from mwrelease.upgrade.space import free_space, removable_new_tree
from mwrelease.upgrade.switch import switch_back

Say = Callable[[str], None]


def undo(j: Journal, say: Say, *, db: Any = None, php: str = "php", reload_command: str | None = None) -> None:
    """Return the wiki to its state before this journal's upgrade, using the journal's facts; the reload
    command comes from the caller (the admin's command line), never from the journal."""
    wiki = Path(j.data["wiki"])
    php = (j.data.get("php") or {}).get("before") or php
    pid = j.data.get("update_pid")
    if pid:
        kill_group(int(pid))
    free_space(j, say)
    if j.reached("switch"):
        say("  " + switch_back(j, wiki))
        j.mark("switch", "undone")
        # Gone before the database restore: on a full disk its space is what the restored copy needs.
        _remove_new_tree(j, wiki, say)
    if j.reached("update") or j.reached("stage"):
        bdir = Path(j.path_of("backup") or "")
        info_path = bdir / "backup.json"
        if info_path.exists():
            info = json.loads(info_path.read_text())
            if db is None or getattr(db, "type", None) != info["database"]["type"]:
                db = inspect_wiki(wiki, php=php, check_local_changes=False).db
            bk.restore_database(db, bdir / "database", info["database"], log=j.state_dir / "logs" / f"{j.id}.log")
            say(f"  database restored from {bdir}")
            j.mark("update", "undone")
    old_tree = Path(j.path_of("old_tree") or wiki)
    if j.reached("readonly"):
        readonly_off(wiki.resolve() if wiki.exists() else old_tree)
        say("  read-only mode is off")
    if j.reached("readonly") or j.reached("switch"):
        try:
            reload_server(reload_command, j.state_dir / "logs" / f"{j.id}.log", php=php)
        except UpgradeError as exc:
            say(f"  warning: {exc.message}")
    _remove_new_tree(j, wiki, say)
    j.finish("rolled-back", error="; ".join(s["name"] + " " + s["status"] for s in j.data["steps"]))


def _remove_new_tree(j: Journal, wiki: Path, say: Say) -> None:
    new_tree = removable_new_tree(j, wiki)
    if new_tree is not None:
        shutil.rmtree(new_tree, ignore_errors=True)
        say(f"  removed the new tree {new_tree}")
    elif j.path_of("new_tree") and os.path.lexists(j.path_of("new_tree") or ""):
        say(f"  left {j.path_of('new_tree')} in place: not a path this upgrade would have unpacked to")


def recover(wiki: Path, state: Path, say: Say, *, php: str = "php",
            reload_command: str | None = None) -> dict[str, Any] | None:
    """If a previous run was killed mid-upgrade, roll it back now. Returns what was recovered."""
    j = Journal.load(state)
    if j is None:
        return None
    if j.data.get("state") != "running":
        j.finish(str(j.data.get("state")))
        return None
    if j.owner_alive():
        raise UpgradeError(f"Another mwrelease upgrade (pid {j.data.get('pid')}) is working on this wiki right now.",
                           hint="Wait for it to finish; if it is stuck, stop that process and run this again.")
    last = j.data["steps"][-1]["name"] if j.data["steps"] else "start"
    say(f"An earlier upgrade {j.data['from']} -> {j.data['to']} stopped during step {last!r} (journal {j.path}); "
        "rolling it back first.")
    undo(j, say, php=php, reload_command=reload_command)
    return {"journal": j.id, "stopped_at": last, "action": "rolled back"}

