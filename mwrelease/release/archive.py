"""Tarballs: written reproducibly, unpacked only when every member is safe.

An admin unpacks what a channel served; a hostile or broken tarball must never write outside the
target directory. Every member is checked *before* anything is written: absolute paths, ``..``
components, links whose target leaves the tree, hard links, devices and fifos are refused with an
IntegrityError. ``tarfile``'s ``data`` filter then runs as a second guard.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import tarfile
from pathlib import Path
from typing import Callable, Iterable

from mwrelease.errors import IntegrityError
from mwrelease.release.manifest import FileEntry

_HAS_FILTERS = hasattr(tarfile, "data_filter")

# Fixed metadata (owner, directory mtimes, gzip header) so that the same tree gives the same bytes.
_MTIME = 1_700_000_000


def write_tarball(out: Path, root: Path, prefix: str, entries: Iterable[FileEntry],
                  progress: Callable[[int], None] | None = None) -> None:
    """Write ``entries`` (paths relative to root) as ``prefix/path`` into a gzip tarball, reproducibly."""
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=_MTIME) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs_done: set[str] = set()
        for e in entries:
            _add_parents(tar, prefix, e.path, dirs_done)
            info = tarfile.TarInfo(prefix + e.path)
            # Files keep their own mtimes, as upstream tarballs do: MediaWiki's localisation cache decides
            # freshness by the mtimes of languages/messages/*.php, so one fixed mtime for every release made
            # a 1.43 tree reuse 1.39's cache ("invalid magic word 'formal'"; found by the end-to-end test).
            mtime = int(os.lstat(root / e.path).st_mtime)
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "root", "root"
            if e.link is not None:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, e.link, 0o777
                tar.addfile(info)
            else:
                info.size, info.mode = e.size, e.mode
                with open(root / e.path, "rb") as fh:
                    tar.addfile(info, fh)
            if progress:
                progress(1)
    os.replace(tmp, out)


def _add_parents(tar: tarfile.TarFile, prefix: str, path: str, done: set[str]) -> None:
    parts = path.split("/")[:-1]
    for i in range(0, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in done:
            continue
        done.add(d)
        info = tarfile.TarInfo((prefix + d).rstrip("/"))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        info.mtime, info.uid, info.gid, info.uname, info.gname = _MTIME, 0, 0, "root", "root"
        tar.addfile(info)


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


def member_paths(archive: Path) -> list[str]:
    """The normalised path of every member of ``archive`` ("" for its root), each checked as ``safe_extract``
    checks it (IntegrityError for an unsafe member or an archive that cannot be read). Nothing is written."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            return [check_member(m, "") for m in tar.getmembers()]
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise IntegrityError(f"{archive} cannot be read as a tarball: {exc}.",
                             hint="Check that it is a .tar.gz (or .tar.xz, .tar.bz2) release tarball.") from None


def safe_extract(archive: Path, dest: Path, prefix: str,
                 progress: Callable[[int], None] | None = None) -> list[str]:
    """Unpack ``archive`` (whose members all live under ``prefix``) into ``dest`` without the prefix.

    Returns the relative paths of the files and links written.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            rels = [check_member(m, prefix) for m in members]  # all checked before anything is written
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
        if isinstance(exc, tarfile.FilterError):
            raise _unsafe(getattr(exc, "tarinfo", tarfile.TarInfo("?")).name, f"was refused ({exc})") from None
        raise IntegrityError(f"{archive} cannot be unpacked: {exc}. The download is damaged or not a release tarball.",
                             hint="Download it again from the release channel.") from None
