"""Disk space: refuse to start an upgrade that will not fit, and keep room for its undo.

A full disk must not stop the undo: each stop holds a reserve file in the state directory
(``RESERVE_BYTES``), and the undo first gives back the reserve, the unused new tree and an incomplete
backup, so the journal, the database restore and LocalSettings.php have room to be written.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Callable

from mwrelease.errors import UpgradeError
from mwrelease.upgrade.journal import Journal

RESERVE_FILE = "reserve"
RESERVE_BYTES = 8 * 1024 * 1024  # room for the undo's writes when the disk fills during an upgrade

Say = Callable[[str], None]

SPACE_MARGIN = 1.2  # 20% beyond the estimate: filesystem overhead, logs, update.php's temporary tables


def check_space(needs: dict[Path, int]) -> None:
    """Refuse to start when a filesystem has less free space than the upgrade will write to it."""
    by_dev: dict[int, tuple[Path, int]] = {}
    for path, need in needs.items():
        probe = path
        while not probe.exists():
            probe = probe.parent
        dev = os.stat(probe).st_dev
        prev = by_dev.get(dev, (probe, 0))
        by_dev[dev] = (prev[0], prev[1] + need)
    short = []
    for probe, need in by_dev.values():
        free = shutil.disk_usage(probe).free
        if free < need * SPACE_MARGIN:
            short.append(f"{probe}: {free / 1e6:.0f} MB free, the upgrade needs about {need * SPACE_MARGIN / 1e6:.0f} MB")
    if short:
        raise UpgradeError("Not enough disk space to upgrade safely; nothing was changed.", details=short,
                           hint="Free some space (old backups are in the state directory's backups/), or use "
                                "--state-dir on a larger filesystem, then run the upgrade again.")


def hold_reserve(state: Path) -> None:
    """Set RESERVE_BYTES aside in the state directory for the undo (see the module doc)."""
    path = state / RESERVE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        if exc.errno != errno.ENOSPC:
            raise
        raise UpgradeError("Not enough disk space to upgrade safely; nothing was changed.",
                           details=[f"{state}: not even {RESERVE_BYTES // 2**20} MB free for the journal and the undo"],
                           hint="Free some space, or use --state-dir on a larger filesystem.") from None
    os.close(fd)


def free_space(j: Journal, say: Say) -> None:
    """Give back what the undo does not need, first: the reserve, a new tree that does not serve the wiki,
    an incomplete backup. Writes nothing."""
    (j.state_dir / RESERVE_FILE).unlink(missing_ok=True)
    wiki = Path(j.data["wiki"])
    new_tree = removable_new_tree(j, wiki)
    if new_tree is not None and not j.reached("switch"):
        shutil.rmtree(new_tree, ignore_errors=True)
        say(f"  removed the new tree {new_tree}")
    step = j.step("backup")
    backup = j.path_of("backup")
    backups = os.path.join(os.path.realpath(j.state_dir), "backups")
    if backup and step and step["status"] != "done" and os.path.dirname(backup) == backups \
            and Path(backup).is_dir() and not Path(backup).is_symlink():
        shutil.rmtree(backup, ignore_errors=True)  # incomplete: the database was not changed after it


def disk_full(exc: BaseException) -> bool:
    """ENOSPC, also as SQLite reports it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(seen) or "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def full_filesystems(paths: list[Path], *, below: int = 1 << 20) -> list[str]:
    """Those of ``paths`` (existing ones) whose filesystem has less than ``below`` bytes free. A failure while
    one is full is a full disk whatever the message says (SQLite's "disk I/O error" when its -shm file cannot
    grow, for one)."""
    out = []
    for path in paths:
        try:
            if shutil.disk_usage(path).free < below:
                out.append(str(path))
        except OSError:
            continue
    return out


def removable_new_tree(j: Journal, wiki: Path) -> Path | None:
    """The journal's new tree, if it is a path the upgrade itself derives (``new_tree_path``): beside the wiki
    as ``.<wiki>.mwrelease-new-<to>``, or (symlink layout) ``mediawiki-<to>`` beside the tree the link serves;
    a real directory, not reached through a symlink, not the tree the wiki serves. Else None: a journal
    never makes mwrelease remove a path it names."""
    raw = j.path_of("new_tree")
    if not raw or not os.path.isabs(raw):
        return None
    p = os.path.normpath(raw)
    to = str(j.data.get("to"))
    parent, name = os.path.split(p)
    parents = {os.path.dirname(os.path.abspath(wiki))}
    if j.data.get("layout") == "symlink" and wiki.is_symlink():
        parents.add(os.path.dirname(os.path.realpath(wiki)))
    names_ok = (name == f".{wiki.name}.mwrelease-new-{to}" or name.startswith(f".{wiki.name}.mwrelease-new-{to}-")
                or (j.data.get("layout") == "symlink"
                    and (name == f"mediawiki-{to}" or name == f"mediawiki-{to}-{j.id}")))
    if parent not in parents or not names_ok or ".." in p.split(os.sep):
        return None
    if not os.path.isdir(p) or os.path.islink(p) or os.path.realpath(p) != p:
        return None
    if wiki.exists() and os.path.realpath(wiki) == p:
        return None
    return Path(p)
