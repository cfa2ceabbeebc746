"""Release tarballs: written reproducibly; unpacked only when every member is safe (``fsutil.safe_extract``)
and every file matches the manifest.

An admin unpacks what a channel served; a hostile or broken tarball must never write outside the
target directory, and a tree that differs from its manifest is never installed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.fsutil import replacing, safe_extract
from mwrelease.release.manifest import FileEntry, Manifest, TreeItem
from mwrelease.release.treediff import verify_tree

# Fixed metadata (owner, directory mtimes, gzip header) so that the same tree gives the same bytes.
_MTIME = 1_700_000_000


def write_tarball(out: Path, root: Path, prefix: str, entries: Iterable[FileEntry],
                  progress: Callable[[int], None] | None = None) -> str:
    """Write ``entries`` (paths relative to root) as ``prefix/path`` into a gzip tarball, reproducibly.
    Returns the tarball's sha256 (hashed as it is written, so the bytes are not read back)."""
    listed = list(entries)
    items = (_item_of(root, e) for e in listed)
    known = {e.path: e.sha256 for e in listed if e.sha256 is not None}
    return write_tree_tarball(out, root, prefix, items, known=known, progress=progress)[0]


def _item_of(root: Path, e: FileEntry) -> TreeItem:
    # Files keep their own mtimes, as upstream tarballs do: MediaWiki's localisation cache decides freshness by
    # the mtimes of languages/messages/*.php, so one fixed mtime for every release made a 1.43 tree reuse 1.39's
    # cache ("invalid magic word 'formal'"; found by the end-to-end test).
    return TreeItem(path=e.path, link=e.link, size=e.size, mode=e.mode, mtime=int(os.lstat(root / e.path).st_mtime))


def write_tree_tarball(out: Path, root: Path, prefix: str, items: Iterable[TreeItem], *,
                       known: Mapping[str, str] | None = None,
                       progress: Callable[[int], None] | None = None) -> tuple[str, dict[str, str]]:
    """Write ``items`` (``list_tree``'s, paths relative to root) as ``prefix/path`` into a gzip tarball,
    reproducibly, reading every file once: its sha256 comes from the bytes the tarball gets (or from ``known``,
    path -> sha256, which spares the hashing, not the read). Returns the tarball's sha256 (hashed as it is
    written) and every regular file's sha256. A file shorter than its listed size is an OSError; of a longer
    one, the listed size is taken (and hashed), so the manifest describes exactly what the tarball holds.

    The stream is byte for byte what ``tarfile`` writes in PAX format for these members (a ustar header when
    the fields fit, tarfile's own header with a pax record when not), without tarfile's per-member work."""
    known = known or {}
    sums: dict[str, str] = {}
    base = os.fspath(root)
    with replacing(out) as tmp, open(tmp, "wb") as raw, ParallelGzip(raw) as gz:
        dirs_done: set[str] = set()
        for it in items:
            for d in _new_parents(it.path, dirs_done):
                gz.write(_header((prefix + d).rstrip("/") + "/", tarfile.DIRTYPE, 0, 0o755, _MTIME))
            if it.link is not None:
                gz.write(_header(prefix + it.path, tarfile.SYMTYPE, 0, 0o777, it.mtime, it.link))
            else:
                gz.write(_header(prefix + it.path, tarfile.REGTYPE, it.size, it.mode, it.mtime))
                digest = _copy_into(f"{base}/{it.path}", it.size, gz, hashed=it.path not in known)
                sums[it.path] = digest or known[it.path]
                if it.size % tarfile.BLOCKSIZE:
                    gz.write(bytes(tarfile.BLOCKSIZE - it.size % tarfile.BLOCKSIZE))
            if progress:
                progress(1)
        gz.write(bytes(2 * tarfile.BLOCKSIZE))  # the end of the archive, then padding to a whole record
        if gz.tell() % tarfile.RECORDSIZE:
            gz.write(bytes(tarfile.RECORDSIZE - gz.tell() % tarfile.RECORDSIZE))
    return gz.sha256, sums


def _copy_into(path: str, size: int, gz: ParallelGzip, *, hashed: bool) -> str | None:
    """Put ``size`` bytes of the file at ``path`` into the stream; their sha256 when ``hashed``."""
    h = hashlib.sha256() if hashed else None
    fd = os.open(path, os.O_RDONLY)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise OSError(f"{path} became shorter while it was written into the tarball")
            if h is not None:
                h.update(chunk)
            gz.write(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return h.hexdigest() if h is not None else None


def _new_parents(path: str, done: set[str]) -> list[str]:
    """The folders of ``path`` not written yet ("" is the top one), outermost first; marked written."""
    d = path.rpartition("/")[0]
    new: list[str] = []
    while d not in done:
        done.add(d)
        new.append(d)
        if not d:
            break
        d = d.rpartition("/")[0]
    return new[::-1]


_USTAR_TAIL = tarfile.POSIX_MAGIC + b"root".ljust(32, b"\0") * 2 + bytes(8 + 8 + 155 + 12)  # magic .. end of block
_ZERO_ID = b"0000000\0"


def _header(name: str, kind: bytes, size: int, mode: int, mtime: int, link: str = "") -> bytes:
    """The header tarfile writes for this member in PAX format, owner root:root (uid and gid 0)."""
    if not (len(name) <= tarfile.LENGTH_NAME and len(link) <= tarfile.LENGTH_LINK and name.isascii()
            and link.isascii() and 0 <= size < 8 ** 11 and 0 <= mtime < 8 ** 11):
        info = tarfile.TarInfo(name)
        info.type, info.size, info.mode, info.mtime, info.linkname = kind, size, mode, mtime, link
        info.uid, info.gid, info.uname, info.gname = 0, 0, "root", "root"
        return info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
    head = b"%s%07o\0%s%s%011o\0%011o\0" % (name.encode().ljust(100, b"\0"), mode & 0o7777, _ZERO_ID, _ZERO_ID,
                                             size, mtime)
    rest = kind + link.encode().ljust(100, b"\0") + _USTAR_TAIL
    return b"%s%06o\0 %s" % (head, sum(head) + sum(rest) + 256, rest)  # the checksum counts its field as spaces


class ParallelGzip(io.RawIOBase):
    """A write-only gzip stream compressed on every core, pigz-style: the input is cut into fixed blocks and
    each block becomes one gzip member (RFC 1952 allows any number; gzip, tar and Python's gzip read them all).
    Fixed block boundaries and header fields keep the output reproducible. zlib releases the GIL, so threads
    compress in parallel; level 6 is gzip's default and half the time of level 9 for 1% more bytes."""

    BLOCK = 4 << 20
    LEVEL = 6

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._buf = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
        self._pending: deque[Future[bytes]] = deque()
        self._hash = hashlib.sha256()
        self._submitted = 0
        self._pos = 0  # bytes taken in: tarfile asks tell() for its offset
        self.sha256 = ""

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def write(self, data: Any) -> int:
        self._buf += data
        self._pos += len(data)
        if len(self._buf) >= self.BLOCK:
            cut = 0
            with memoryview(self._buf) as view:  # one copy per block, one move of the rest
                while len(self._buf) - cut >= self.BLOCK:
                    self._submit(bytes(view[cut:cut + self.BLOCK]))
                    cut += self.BLOCK
            del self._buf[:cut]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self._submitted += 1
        self._pending.append(self._pool.submit(gzip.compress, block, self.LEVEL, mtime=_MTIME))
        while len(self._pending) > 2 * (os.cpu_count() or 1):  # bounded memory: a few blocks in flight
            self._emit(self._pending.popleft().result())

    def _emit(self, member: bytes) -> None:
        self._raw.write(member)
        self._hash.update(member)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._buf or not self._submitted:  # an empty stream is still one (empty) gzip member
                self._submit(bytes(self._buf))
                self._buf.clear()
            while self._pending:
                self._emit(self._pending.popleft().result())
            self.sha256 = self._hash.hexdigest()
        finally:
            self._pool.shutdown(cancel_futures=True)
            super().close()


def unpack_verified(tarball: Path, manifest: Manifest, dest: Path, *, old_tree: Path | None = None,
                    tick: Callable[[int], None] | None = None) -> None:
    """Unpack a full or delta artifact into ``dest`` (which must not exist) and verify every file.

    Every path was checked when the manifest was read (``manifest.check_paths``: relative, no '..', nothing under
    a symlink); every member's size is checked against the manifest before a byte is unpacked.

    For a delta, ``old_tree`` is the installed tree of ``manifest.delta_from``: unchanged files are copied
    from it, then the delta is unpacked over them, and the result is checked against the full file list.
    """
    if dest.exists():
        raise IntegrityError(f"{dest} already exists; refusing to unpack over it.")
    if manifest.kind == "delta":
        if old_tree is None:
            raise ConfigError("A delta artifact needs the old tree it applies to.")
        changed = set(manifest.delta_changed)
        dest.mkdir(parents=True)
        for f in manifest.files:
            if f.path in changed:
                continue
            src = old_tree / f.path
            target = dest / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if f.link is not None:
                target.symlink_to(f.link)
            elif src.is_file():
                shutil.copy2(src, target)
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            written = safe_extract(tarball, Path(tmp), manifest.prefix, progress=tick,
                                   sizes={f.path: f.size for f in manifest.files
                                          if f.path in changed and f.link is None})
            if set(written) != changed:
                raise IntegrityError(f"{tarball.name} does not hold exactly the files its manifest lists as changed.",
                                     hint="Download it again from the release channel.")
            for rel in written:
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                Path(tmp, rel).replace(dest / rel)
    else:
        safe_extract(tarball, dest, manifest.prefix, progress=tick,
                     sizes={f.path: f.size for f in manifest.files if f.link is None})
    verify_tree(dest, manifest)
