"""Small file-system helpers every room uses: the UTC time stamp, atomic writes, safe tarball unpacking.

Atomic writes: the content goes to a temporary file beside the target (same folder, so same file system),
is fsynced, and ``os.replace`` puts it in place: readers see the old file or the new one, never half of
one, and a crash leaves at most a stray temporary file. ``durable=True`` also fsyncs the folder, so that
the rename itself survives a power cut (the upgrade journal needs that).

Safe unpacking: an archive may come from a channel, a core tarball URL or an extension's tarball; a hostile
or broken one must never write outside the target directory. Every member is checked *before* anything is
written: absolute paths, ``..`` components, links whose target leaves the tree, hard links, devices and fifos
are refused with an IntegrityError, and so are symlink chains that leave the tree and members under a symlink
(``check_links``, which resolves the archive's links itself, so that a Python without tar filters, such as
Debian bookworm's 3.11.2, is as safe as 3.12). ``tarfile``'s ``data`` filter then runs as a second guard.

A full disk while unpacking is ``DiskFull`` (exit 13), never "a damaged archive" nor a traceback: what was
unpacked is removed first, and the message names the directory and what to do.
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mwrelease.errors import DiskFull, IntegrityError

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def now(fmt: str = ISO_UTC) -> str:
    """The current UTC time, by default as ``2026-11-22T03:00:00Z`` (what every file mwrelease writes uses)."""
    return dt.datetime.now(dt.timezone.utc).strftime(fmt)


# --- atomic writes ---------------------------------------------------------------------------------------

@contextmanager
def replacing(path: Path, *, mode: int | None = None, durable: bool = False) -> Iterator[Path]:
    """A fresh temporary path beside ``path``; when the block ends without an error, the file written there is
    fsynced and renamed onto ``path``. On any error (or Ctrl-C) the temporary file is removed and ``path`` is
    left as it was.

    ``mode`` None gives the file the mode a plain ``open(path, "w")`` would (0666 less the umask); pass e.g.
    0o644 or 0o600 to set one. With a mode, the temporary file is created 0600 (by ``os.open``, before a byte
    is written: it may hold a password) and gets ``mode`` only when complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _reserve_beside(path, 0o666 if mode is None else 0o600)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically; see ``replacing``."""
    raw = data.encode() if isinstance(data, str) else data
    with replacing(path, mode=mode, durable=durable) as tmp:
        tmp.write_bytes(raw)


def _reserve_beside(path: Path, create_mode: int = 0o666) -> Path:
    # O_EXCL with a random name: two writers of the same target (parallel cells, two publishes) never share a
    # temporary file. Created with 0666 like open(..., "w"), so the umask decides as it would for a plain write
    # (mkstemp's 0600 would silently make every manifest and index private).
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.part")  # as secrets.token_hex(4), without importing hashlib
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, create_mode))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover - 100 random collisions


# --- a full disk ----------------------------------------------------------------------------------------

def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC (or EDQUOT), also inside ``shutil.copytree``'s collected ``shutil.Error`` and the cause chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DiskFull):
            return True
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, shutil.Error) and any("No space left on device" in str(e) or "Disk quota" in str(e)
                                                  for e in (seen.args[0] if seen.args else ())):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full(where: Path, doing: str, exc: BaseException) -> DiskFull:
    """The one message for a disk that filled up under ``where`` while ``doing`` (what was written is gone)."""
    try:
        free = f" ({shutil.disk_usage(where if where.exists() else where.parent).free >> 20} MiB free now)"
    except OSError:
        free = ""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "No space left on device"
    return DiskFull(f"The disk filled up while {doing} into {where} ({why}); what had been written there was "
                    f"removed, so nothing half-written is left behind. The filesystem of {where} is full{free}.",
                    hint="Free space on that filesystem, or choose a directory on another one (--out-dir for "
                         "what a command writes, TMPDIR for temporary files), then run the command again.")


# --- safe unpacking ----------------------------------------------------------------------------------------

_HAS_FILTERS = hasattr(tarfile, "data_filter")


def check_member(m: tarfile.TarInfo, prefix: str) -> str:
    """The member's path relative to ``prefix``, or IntegrityError if it is unsafe to unpack."""
    name = m.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _unsafe(name, "has an absolute path")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or "/../" in f"/{name}/":
        raise _unsafe(name, "contains '..' and would write outside the target directory")
    if m.isdev() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym()):
        if m.islnk():
            raise _unsafe(name, "is a hard link (releases contain none)")
        raise _unsafe(name, "is a device, fifo or other special file")
    root = prefix.rstrip("/")
    if norm == ".":  # "./", the archive's own root, as `tar -C dir -c .` writes it
        if not m.isdir():
            raise _unsafe(name, "is not a directory but names the archive's root")
        return ""
    if norm != root and not norm.startswith(prefix):
        raise _unsafe(name, f"is outside the release's top directory {prefix!r}")
    rel = "" if norm == root else norm[len(prefix):]
    if m.issym():
        target = m.linkname
        if target.startswith("/"):
            raise _unsafe(name, f"is a symlink to the absolute path {target!r}")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        if resolved == ".." or resolved.startswith("../"):
            raise _unsafe(name, f"is a symlink pointing outside the tree ({target!r})")
    return rel


def _unsafe(name: str, why: str) -> IntegrityError:
    return IntegrityError(f"The archive member {name!r} {why}; the archive is unsafe to unpack and nothing was "
                          "installed from it.", hint="Do not use this artifact: download it again from the release "
                          "channel and tell the release managers if it happens again.")


MAX_UNPACKED = 8 << 30  # no release or extension tarball comes near 8 GiB unpacked; a gzip bomb does


def check_links(members: list[tarfile.TarInfo], rels: list[str]) -> None:
    """Refuse what per-member checks cannot see: a member written through a symlink member (``lnk/file``), and a
    symlink whose target leaves the tree once the archive's other symlinks are followed (``b/c -> ..`` then
    ``e -> b/c/..``). With tar filters, Python checks this at extraction; without them (3.11.2, Debian
    bookworm's), this is the only guard, so it always runs."""
    links = {rel: m.linkname for m, rel in zip(members, rels) if rel and m.issym()}
    for m, rel in zip(members, rels):
        parts = rel.split("/") if rel else []
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise _unsafe(m.name, f"lies under the symlink {'/'.join(parts[:i])!r} in the same archive")
        if rel in links:
            if _resolve(posixpath.dirname(rel), links[rel], links) is None:
                raise _unsafe(m.name, f"is a symlink that leaves the tree through other symlinks ({m.linkname!r})")


def _resolve(base: str, target: str, links: dict[str, str]) -> str | None:
    """Where ``target`` (relative to the folder ``base``) really leads inside the tree, following the archive's
    symlinks as the kernel would; None when it leaves the tree (or loops)."""
    todo = [p for p in target.split("/") if p] [::-1]
    here: list[str] = [p for p in base.split("/") if p]
    hops = 0
    while todo:
        part = todo.pop()
        if part == ".":
            continue
        if part == "..":
            if not here:
                return None
            here.pop()
            continue
        here.append(part)
        cur = "/".join(here)
        if cur in links:
            hops += 1
            if hops > 40 or links[cur].startswith("/"):
                return None
            here.pop()
            todo.extend([p for p in links[cur].split("/") if p][::-1])
    return "/".join(here)


def member_paths(archive: Path) -> list[str]:
    """The normalised path of every member of ``archive`` ("" for its root), each checked as ``safe_extract``
    checks it (IntegrityError for an unsafe member or an archive that cannot be read). Nothing is written."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            rels = [check_member(m, "") for m in members]
            check_links(members, rels)
            return rels
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise IntegrityError(f"{archive} cannot be read as a tarball: {exc}.",
                             hint="Check that it is a .tar.gz (or .tar.xz, .tar.bz2) release tarball.") from None


def safe_extract(archive: Path, dest: Path, prefix: str = "",
                 progress: Callable[[int], None] | None = None, *, sizes: Mapping[str, int] | None = None,
                 max_total: int = MAX_UNPACKED) -> list[str]:
    """Unpack ``archive`` (whose members all live under ``prefix``, e.g. ``mediawiki-1.43.5/``; "" for none)
    into ``dest`` without the prefix. Returns the relative paths of the files and links written.

    Before a byte is written: every member is checked (``check_member``, ``check_links``); with ``sizes`` (the
    manifest's file sizes) each file must be listed there with exactly that size; and the files together must
    stay under ``max_total`` bytes. A full disk is DiskFull, with what was unpacked removed again."""
    dest, archive = Path(dest), Path(archive)  # callers in scripts pass strings
    existed = dest.exists()
    before = set(os.listdir(dest)) if existed and dest.is_dir() else set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            rels = [check_member(m, prefix) for m in members]  # all checked before anything is written
            check_links(members, rels)
            total = 0
            for m, rel in zip(members, rels):
                if not m.isfile():
                    continue
                if sizes is not None and sizes.get(rel) != m.size:
                    why = "is not in the release manifest" if rel not in sizes else \
                        f"has {m.size} bytes, the manifest says {sizes[rel]}"
                    raise _unsafe(m.name, why)
                total += m.size
                if total > max_total:
                    raise _unsafe(m.name, f"takes the unpacked size past {max_total} bytes")
            dest.mkdir(parents=True, exist_ok=True)
            written: list[str] = []
            for m, rel in zip(members, rels):
                if not rel:
                    continue
                m.name = rel
                if _HAS_FILTERS:
                    tar.extract(m, dest, filter="data")
                else:  # Python < 3.11.4 (Debian bookworm's 3.11.2): our own checks above are the guard
                    m.mode &= 0o755
                    tar.extract(m, dest, set_attrs=not m.issym())
                if not m.isdir():
                    written.append(rel)
                if progress:
                    progress(1)
            return written
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        if isinstance(exc, OSError) and is_disk_full(exc):  # the archive is fine: say so, and clean up
            remove_new(dest, existed, before)
            raise disk_full(dest, f"unpacking {archive.name}", exc) from exc
        if isinstance(exc, tarfile.FilterError):
            raise _unsafe(getattr(exc, "tarinfo", tarfile.TarInfo("?")).name, f"was refused ({exc})") from None
        raise IntegrityError(f"{archive} cannot be unpacked: {exc}. The download is damaged or not a release tarball.",
                             hint="Download it again from the release channel.") from None


def remove_new(dest: Path, existed: bool, before: set[str]) -> None:
    """Remove what an interrupted writer (``safe_extract``, a release build) put in ``dest``: ``dest`` itself if
    it did not exist, else the entries that were not there before (``before``: their names)."""
    if not existed:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for name in set(os.listdir(dest)) - before if dest.is_dir() else ():
        p = dest / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
