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
from typing import Any, BinaryIO, Callable, Iterable

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.fsutil import replacing, safe_extract
from mwrelease.release.manifest import FileEntry, Manifest
from mwrelease.release.treediff import verify_tree

# Fixed metadata (owner, directory mtimes, gzip header) so that the same tree gives the same bytes.
_MTIME = 1_700_000_000


def write_tarball(out: Path, root: Path, prefix: str, entries: Iterable[FileEntry],
                  progress: Callable[[int], None] | None = None) -> str:
    """Write ``entries`` (paths relative to root) as ``prefix/path`` into a gzip tarball, reproducibly.
    Returns the tarball's sha256 (hashed as it is written, so the bytes are not read back)."""
    with replacing(out) as tmp, open(tmp, "wb") as raw, ParallelGzip(raw) as gz, \
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
    return gz.sha256


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
        while len(self._buf) >= self.BLOCK:
            self._submit(bytes(self._buf[:self.BLOCK]))
            del self._buf[:self.BLOCK]
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
