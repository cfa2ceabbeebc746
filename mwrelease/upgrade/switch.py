"""The tree switch: the wiki path starts serving another tree, and the journal says how to switch back.

Two layouts: the wiki path is a symlink (the switch renames a temporary link over it: atomic), or the wiki
path is the tree itself (two journaled renames: the serving tree is parked beside the wiki, the other tree
takes its name). An upgrade parks the old tree as ``<wiki>.mwrelease-old-<version>`` (journal key "aside"),
a rollback parks the upgraded tree as ``<wiki>.mwrelease-rolledback-<version>`` (journal key "parked").
A parked tree (and, in the symlink layout, the tree the link left) is made 0700 and, when mwrelease runs as root,
root's own (top folder only), so that a web server serving the wiki's parent cannot serve it even where the web
server's user owns the wiki (``chown -R www-data``); the tree switched in gets the mode and owner the serving tree
had.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mwrelease.errors import UpgradeError
from mwrelease.upgrade.journal import Journal
from mwrelease.upgrade.processes import fault

# A tree that does not serve the wiki (parked old tree, new tree being staged) is private to its owner: it may
# sit under the web root, and its LocalSettings.php and index.php must not be served.
PARKED_MODE = 0o700


def park(tree: Path | str) -> None:
    """Make ``tree`` (a folder that serves no wiki) private: 0700, and root's when we are root. Only the top
    folder changes: nobody else can enter it, whoever owns what is inside."""
    os.chmod(tree, PARKED_MODE)
    if os.geteuid() == 0 and os.stat(tree).st_uid != 0:
        os.chown(tree, 0, 0)


def switch(j: Journal, wiki: Path, *, layout: str, tree: Path | str, park_as: str, park_key: str) -> None:
    """Make ``wiki`` serve ``tree``; in the directory layout the serving tree is parked under ``park_as``
    (made unique with the journal id), recorded in the journal under ``park_key`` before anything moves."""
    serving = os.path.realpath(wiki)
    st = os.stat(wiki)
    mode = stat.S_IMODE(st.st_mode)
    j.data["paths"]["serving_mode"] = mode
    j.data["paths"]["serving_uid"], j.data["paths"]["serving_gid"] = st.st_uid, st.st_gid
    if layout == "symlink":
        j.set_path("link_target_before", os.readlink(wiki))
        _serve(tree, mode, st)
        point_symlink(wiki, str(tree))
        park(serving)
        return
    parked = wiki.with_name(park_as)
    if parked.exists():
        parked = parked.with_name(parked.name + f"-{j.id}")
    j.set_path(park_key, str(parked))
    j.data["paths"]["old_ino"] = os.stat(wiki).st_ino
    j.data["paths"]["new_ino"] = os.stat(tree).st_ino
    j.save()
    _serve(tree, mode, st)
    # Two renames; between them the wiki path is briefly absent (microseconds). The journal has both names.
    os.rename(wiki, parked)
    park(parked)
    fault("switch-between-renames", j.data["to"])
    os.rename(tree, wiki)


def point_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.mwrelease-link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)  # rename(2): atomic, the path always points somewhere


def switch_back(j: Journal, wiki: Path) -> str:
    """Undo an upgrade's ``switch`` from whatever state the journal and the file system show; returns what
    was done."""
    paths = j.data["paths"]
    if j.data["layout"] == "symlink":
        before = paths.get("link_target_before")
        if before and wiki.is_symlink() and os.readlink(wiki) != before:
            current = os.path.realpath(wiki)
            point_symlink(wiki, before)
            _unpark(wiki, paths)
            park(current)
            return f"{wiki} points to {before} again"
        return "symlink already on the old tree"
    aside = Path(paths["aside"]) if paths.get("aside") else None
    new_tree = Path(paths["new_tree"])
    if aside is None or not aside.exists():
        return "the old tree was never moved"
    if wiki.exists():
        if os.stat(wiki).st_ino == paths.get("old_ino"):
            return "the old tree is in place"
        if new_tree.exists():
            raise UpgradeError(f"Both {wiki} and {new_tree} exist while the old tree is at {aside}; not guessing.")
        os.rename(wiki, new_tree)
        park(new_tree)
    os.rename(aside, wiki)
    _unpark(wiki, paths)
    return f"{wiki} is the old tree again"


def _serve(tree: Path | str, mode: int, like: os.stat_result) -> None:
    """``tree`` is about to serve the wiki: its top folder gets the serving tree's mode and owner."""
    os.chmod(tree, mode)
    if os.geteuid() == 0 and (os.stat(tree).st_uid, os.stat(tree).st_gid) != (like.st_uid, like.st_gid):
        os.chown(tree, like.st_uid, like.st_gid)


def _unpark(wiki: Path, paths: dict[str, object]) -> None:
    """The tree serving ``wiki`` again gets the mode (and, as root, the owner) it had before it was parked."""
    mode = paths.get("serving_mode")
    tree = os.path.realpath(wiki)
    os.chmod(tree, mode if isinstance(mode, int) and 0 <= mode <= 0o7777 else 0o755)
    uid, gid = paths.get("serving_uid"), paths.get("serving_gid")
    if os.geteuid() == 0 and isinstance(uid, int) and isinstance(gid, int) and 0 <= uid < 2**32 and 0 <= gid < 2**32:
        os.chown(tree, uid, gid)
