"""Where an upgrade keeps its state, and why mwrelease believes what it finds there.

The state directory holds the journal, the history, database backups and downloads: what undoes an upgrade,
and copies of the database and of LocalSettings.php (its password). It lives where no web server serves it
and no other user reads or plants files:

    root         /var/lib/mwrelease/<wiki-id>/
    other users  $XDG_STATE_HOME/mwrelease/<wiki-id>/  (~/.local/state/mwrelease/<wiki-id>/)
    --state-dir  wherever the admin says ($MWRELEASE_STATE_HOME/<wiki-id>/ replaces the first two)

``<wiki-id>`` is a readable slug of the wiki's path plus a short hash of it (``var-www-wiki-1a2b3c4d``). The
path is the wiki's absolute path with its parent resolved but not the wiki itself: in the symlink layout the
link's target changes with every upgrade, the link does not.

Earlier versions kept the state beside the wiki (``<parent>/.mwrelease``), often under the web root. Such a
folder is found: with no journal in it (no upgrade half done) it is moved to the new place when that is on the
same file system, and the paths its history names inside it are rewritten; otherwise it is used where it is,
made private (0700), with a warning.

Trust: a state directory (and the journal and history in it) must belong to the user running mwrelease, must
not be writable by group or others, and must not be reached through a symbolic link; anything else is refused
(ConfigError): a user who can write the wiki's parent folder must not be able to plan what root removes or runs.

One run per wiki: ``wiki_lock`` takes an exclusive ``flock`` on ``<state>/lock`` for the whole upgrade, rollback
or prune; the kernel drops it when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mwrelease.errors import ConfigError, WikiLocked
from mwrelease.fsutil import write_atomic

LEGACY_NAME = ".mwrelease"
LOCK_NAME = "lock"


def wiki_key(wiki: Path) -> str:
    """The wiki's absolute path, its parent resolved (see the module docstring)."""
    a = Path(os.path.abspath(wiki))
    return os.path.join(os.path.realpath(a.parent), a.name)


def wiki_id(wiki: Path) -> str:
    key = wiki_key(wiki)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[-48:].strip("-") or "wiki"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def state_base() -> Path:
    # MWRELEASE_STATE_HOME: set by the admin who runs mwrelease (and by the tests), so as trusted as --state-dir.
    own = os.environ.get("MWRELEASE_STATE_HOME")
    if own and os.path.isabs(own):
        return Path(own)
    if os.geteuid() == 0:
        return Path("/var/lib/mwrelease")
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "mwrelease"


def default_state_dir(wiki: Path) -> Path:
    return state_base() / wiki_id(wiki)


def legacy_state_dir(wiki: Path) -> Path:
    return Path(os.path.abspath(wiki)).parent / LEGACY_NAME


def state_dir_for(wiki: Path, override: Path | None = None) -> Path:
    """Where this wiki's state is (no side effects): ``override``, else the default place, else a legacy
    ``.mwrelease`` beside the wiki when only that exists."""
    if override is not None:
        return Path(os.path.abspath(override))
    new = default_state_dir(wiki)
    legacy = legacy_state_dir(wiki)
    if not os.path.lexists(new) and os.path.lexists(legacy):
        return legacy
    return new


def check_private(path: Path, what: str) -> None:
    """ConfigError unless ``path`` (absent is fine) is owned by us, not writable by group or others, and not
    reached through a symbolic link."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    problem = None
    if stat.S_ISLNK(st.st_mode) or os.path.realpath(path) != os.path.abspath(path):
        problem = "is (or is reached through) a symbolic link"
    elif st.st_uid != os.geteuid():
        problem = f"belongs to user id {st.st_uid}, not to the user running mwrelease ({os.geteuid()})"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if problem:
        raise ConfigError(f"The {what} {path} {problem}; mwrelease does not trust it (another user could have "
                          "planted what it says) and changed nothing.",
                          hint="Check who wrote it. If it is yours, fix its owner and mode (chown, chmod go-w), or "
                               "point --state-dir at a private directory.")


def open_state(wiki: Path, override: Path | None, *, say: Callable[[str], None] | None = None,
               create: bool = True) -> Path:
    """The checked state directory of ``wiki``; a legacy one beside the wiki is moved (or made private and
    used, with a warning). Created 0700 when ``create``."""
    state = state_dir_for(wiki, override)
    legacy = legacy_state_dir(wiki)
    if override is None and state == legacy and create:
        state = _adopt_legacy(wiki, legacy, say)
    if create and not os.path.lexists(state):
        state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        state.mkdir(mode=0o700)
    check_private(state, "state directory")
    for name in ("journal.json", "history.json", LOCK_NAME):
        check_private(state / name, f"{name} in the state directory")
    return state


def _adopt_legacy(wiki: Path, legacy: Path, say: Callable[[str], None] | None) -> Path:
    check_private(legacy, "state directory")
    new = default_state_dir(wiki)
    warn = say or (lambda m: None)
    if not (legacy / "journal.json").exists():
        try:
            new.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.rename(legacy, new)  # same file system only (EXDEV otherwise): no half-copied backups
        except OSError as exc:
            reason = exc.strerror
        else:
            _rewrite_history_paths(new, str(legacy), str(new))
            os.chmod(new, 0o700)
            warn(f"note: moved the state directory {legacy} (beside the wiki, where a web server may serve it) "
                 f"to {new}.")
            return new
    else:
        reason = "an upgrade is half done there"
    os.chmod(legacy, 0o700)
    warn(f"warning: using the state directory {legacy} beside the wiki ({reason}, so it was not moved to {new}); "
         "it was made private (0700). Move it there by hand, or pass --state-dir.")
    return legacy


def _rewrite_history_paths(state: Path, old: str, new: str) -> None:
    p = state / "history.json"
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError, RecursionError):
        return
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        return
    for e in data["entries"]:
        paths = e.get("paths") if isinstance(e, dict) else None
        if isinstance(paths, dict):
            for k, v in paths.items():
                if isinstance(v, str) and (v == old or v.startswith(old + "/")):
                    paths[k] = new + v[len(old):]
    write_atomic(p, json.dumps(data, indent=2) + "\n", mode=0o600, durable=True)


@contextmanager
def wiki_lock(state: Path, wiki: Path, *, take: bool = True) -> Iterator[None]:
    """Exclusive for the whole block; WikiLocked when another process holds it. Released when the process
    dies (flock belongs to the open file). ``take`` False (a dry run): nothing."""
    if not take:
        yield
        return
    path = state / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            except OSError:
                holder = ""
            raise WikiLocked(f"Another mwrelease run{f' (pid {holder})' if holder else ''} is working on {wiki} "
                             f"right now (it holds {path}); nothing was changed.",
                             hint="Wait for it to finish and run this again.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
