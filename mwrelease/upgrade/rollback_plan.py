"""What `mwrelease rollback` would do, without doing it: which run it undoes, what it restores (release,
old tree, database backup) and what it loses (the revisions saved since the backup was taken)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import NothingToDo
from mwrelease.fsutil import now
from mwrelease.upgrade.edits import Edits, revisions_since
from mwrelease.upgrade.inspect import inspect_wiki, require_wiki
from mwrelease.upgrade.journal import Journal, read_history, standing_upgrades
from mwrelease.upgrade.statedir import state_dir_for


@dataclass(frozen=True, kw_only=True)
class RollbackPreview:
    wiki: Path
    action: str  # "undo-interrupted" | "rollback"
    from_version: str  # what the wiki runs (or was being upgraded to)
    to_version: str  # what it runs afterwards
    upgrade: str  # the journal id of the run that is undone
    old_tree: str | None = None
    backup: str | None = None
    backup_created: str | None = None
    lost: Edits | None = None
    until: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"wiki": str(self.wiki), "action": self.action, "from": self.from_version, "to": self.to_version,
                "upgrade": self.upgrade, "old_tree": self.old_tree, "backup": self.backup,
                "backup_created": self.backup_created, "lost_edits": self.lost.to_json() if self.lost else None,
                "until": self.until}

    def render(self) -> str:
        if self.action == "undo-interrupted":
            return (f"Rollback plan for {self.wiki}: undo the interrupted run {self.to_version} -> "
                    f"{self.from_version} (journal {self.upgrade}) and return to {self.to_version}; the wiki was "
                    "read-only during it, so no edits are lost.")
        out = [f"Rollback plan for {self.wiki}: MediaWiki {self.from_version} -> {self.to_version}",
               f"  restores: the old tree {self.old_tree} and the database backup {self.backup} "
               f"(taken {self.backup_created or '?'}, when the upgrade {self.upgrade} began)"]
        if self.lost is not None:
            out.append(f"  loses: {self.lost.render()} until now ({self.until})")
            if self.lost.count:
                out.append("  those edits are not in the restored database; export them first "
                           "(Special:Export) if you need them")
        return "\n".join(out)


def preview_rollback(wiki: Path, *, state_dir: Path | None, php: str = "php") -> RollbackPreview:
    """Raises ConfigError when ``wiki`` is no wiki (and no interrupted run names it), NothingToDo when there is
    nothing to roll back. Changes nothing."""
    wiki = Path(os.path.abspath(wiki))
    state = state_dir_for(wiki, state_dir)
    j = Journal.load(state)
    if j is not None and j.data.get("state") == "running":
        # The wiki path may be missing right now (killed mid-switch): no wiki check.
        # Undoing a run returns to where it started.
        return RollbackPreview(wiki=wiki, action="undo-interrupted", from_version=str(j.data.get("to")),
                               to_version=str(j.data.get("from")), upgrade=j.id, until=now())
    require_wiki(wiki)
    standing = standing_upgrades(read_history(state), str(wiki))
    if not standing:
        raise NothingToDo(f"There is no finished upgrade of {wiki} to roll back.",
                          hint="`mwrelease status --wiki ...` lists the upgrades and backups.")
    last = standing[-1]
    backup = last.path("backup")
    created: str | None = None
    if backup:
        try:
            info = json.loads((Path(backup) / "backup.json").read_text())
            created = info.get("created") if isinstance(info, dict) else None
        except (OSError, json.JSONDecodeError):
            created = None
    # The backup is taken while the wiki is read-only, at the start of the upgrade: every revision saved
    # since then is missing from it.
    since = created or last.finished or last.started or ""
    db = inspect_wiki(wiki, php=php, check_local_changes=False).db
    return RollbackPreview(wiki=wiki, action="rollback", from_version=str(last.to_version),
                           to_version=str(last.from_version), upgrade=str(last.id),
                           old_tree=last.path("aside") or last.path("old_tree"), backup=backup,
                           backup_created=created, lost=revisions_since(db, since), until=now())
