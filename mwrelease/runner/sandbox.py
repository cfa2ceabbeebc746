"""The test sandbox: the limits a cell's wiki container runs under, and how a step that hit one explains itself.

Extension code under test is untrusted. In its container MediaWiki runs as www-data (not root), on a
read-only root filesystem; every place a cell writes is a size-limited tmpfs (the disk limit: nothing
reaches the host's disk, and tmpfs pages count against the memory limit). A CPU quota, a process limit,
``nofile``/``fsize`` ulimits and ``--network none`` bound the rest; the host caps what it reads of a
command's output and kills the container when a command outlives its deadline (``runner.container``).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mwrelease.runner.container import Container, ExecResult
    from mwrelease.runner.plan import Cell


FSIZE = 1 << 30  # far above any file MediaWiki writes in a cell (the tmpfs of 256 MiB is full long before)
# The hard fsize limit cannot be lower than this: MediaWiki hands Shellbox $wgMaxShellFileSize (default
# 102400 KiB) as bytes (x 1024), and Shellbox's limit.sh passes those bytes to bash's `ulimit -f`, which
# counts KiB and sets soft and hard limit together: `ulimit -f 104857600` asks for 100 GiB. Raising a hard
# limit is not permitted to www-data, so under a lower one limit.sh's ulimit fails and every shelled-out
# command (SyntaxHighlight's pygmentize) fails with it. So the 1 GiB limit is a soft one: it stops a
# runaway writer by accident (SIGXFSZ), while hostile code may raise it to 100 GiB, where the tmpfs size
# (``size``) is the bound that holds.
SHELLBOX_FSIZE = 102400 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Sandbox:
    """Limits for a container that runs untrusted code (a cell's wiki container).

    The root filesystem is read-only; each of ``writable`` is a tmpfs of at most ``size`` (the disk
    limit: nothing written in the container reaches the host's disk, and tmpfs pages count against the
    memory limit), owned by ``user``. ``fsize`` caps any single file, ``nofile`` open files,
    ``cpus`` the CPU time (a spinner gets that share, the host and the other cells the rest).
    """

    user: str = "33:33"  # www-data on Debian, who owns MediaWiki's writable places there
    writable: tuple[str, ...] = ()
    size: str = "256m"
    cpus: float = 1.0
    nofile: int = 4096
    fsize: int = FSIZE  # bytes, the soft limit; 0: no fsize ulimit (the tmpfs size still bounds every file)
    fsize_hard: int = SHELLBOX_FSIZE  # the hard limit (at least ``fsize``): see SHELLBOX_FSIZE
    executable: tuple[str, ...] = ()  # those of ``writable`` whose files may be run (component trees)

    def tmpfs_options(self) -> dict[str, str]:
        uid, _, gid = self.user.partition(":")
        owner = f"uid={uid},gid={gid or uid}," if uid.isdigit() and (gid or uid).isdigit() else ""
        # nosuid,nodev everywhere; "exec" only where components are copied in (SyntaxHighlight runs its
        # bundled pygmentize), noexec elsewhere, /tmp included (Shellbox only keeps input files there).
        return {path: f"rw,{'exec' if path in self.executable else 'noexec'},nosuid,nodev,size={self.size},{owner}mode=0755"
                for path in self.writable}

    def run_options(self) -> dict[str, Any]:
        from docker.types import Ulimit

        return {"user": self.user, "read_only": True, "nano_cpus": int(self.cpus * 1e9),
                "ulimits": [Ulimit(name="nofile", soft=self.nofile, hard=self.nofile),
                            *([Ulimit(name="fsize", soft=self.fsize, hard=max(self.fsize, self.fsize_hard))]
                              if self.fsize else [])]}


# Debian's layout (runner.mediawiki): LocalSettings.php ends in /etc/mediawiki, uploads and caches in
# /var/lib/mediawiki; ours (SQLite, l10n cache, logs, cookies, helper scripts) in /var/lib/mwtest,
# /var/log/mwtest and /usr/local/share/mwrelease; PHP's sessions and temp files in /var/lib/php/sessions, /tmp.
DEBIAN_WRITABLE = ("/tmp", "/var/lib/mwtest", "/var/log/mwtest", "/etc/mediawiki", "/var/lib/mediawiki/images",
                   "/var/lib/mediawiki/cache", "/var/lib/php/sessions", "/usr/local/share/mwrelease")


def writable_places(cell: Cell, ip: str) -> tuple[str, ...]:
    """Where a cell on a Debian-layout image writes: the fixed places and $IP/extensions/NAME (or skins/NAME)
    of each component copied in. A symlink there (into extensions-core) is followed by the mount, so the
    copy hides the bundled one."""
    placed = tuple(f"{ip}/{'skins' if c.kind == 'skin' else 'extensions'}/{c.name}" for c in cell.loaded
                   if not (c.source.type == "bundled" and cell.core_line == cell.lock.core_line))
    return (*DEBIAN_WRITABLE, *placed)


def explain(r: ExecResult, sandbox: Sandbox | None) -> str:
    """Why a command ended as it did, when a sandbox limit or the host deadline ended it ("" otherwise)."""
    if r.killed:
        return "the host killed its container: it ran past its deadline"
    code = r.exit_code
    if sandbox is not None and code == 128 + signal.SIGXFSZ:
        return f"killed by SIGXFSZ: it wrote a file past the sandbox's file size limit ({sandbox.fsize >> 20} MiB)"
    if code == 128 + signal.SIGKILL and not r.timed_out:
        return "killed by SIGKILL: the container's memory limit (OOM) or a kill from outside"
    if sandbox is not None and ("No space left on device" in r.output or "Disk quota exceeded" in r.output):
        return f"the sandbox's disk is full (each writable place is a {sandbox.size} tmpfs)"
    if "Resource temporarily unavailable" in r.output or "fork(): Error 11" in r.output or "Error 11" in r.output:
        return "it hit the container's process limit (fork failed)"
    return ""


def usage_notes(container: Container, sandbox: Sandbox | None) -> str:
    """The sandbox's places that are (nearly) full, read after a failed step; "" when none or unreadable."""
    if sandbox is None or not sandbox.writable:
        return ""
    from mwrelease.errors import EngineError

    try:
        r = container.exec(["df", "-P", *sandbox.writable], timeout=10, quiet=True)
    except EngineError:
        return ""
    full = []
    for line in r.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 6 and parts[4].rstrip("%").isdigit() and int(parts[4].rstrip("%")) >= 99:
            full.append(parts[5])
    return f"disk full: {', '.join(full)} (tmpfs of {sandbox.size} each)" if full else ""
