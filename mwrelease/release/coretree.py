"""A core tree in MediaWiki's upstream (tarball) layout, from a directory, a core image or an official tarball.

Debian's ``mediawiki`` package installs core at /usr/share/mediawiki, but several entries there are
symlinks: LocalSettings.php -> /etc/mediawiki, images -> /var/lib/mediawiki, and vendor libraries
that Debian unbundles -> /usr/share/php/... An upstream tarball has real files in those places, so
we copy the tree *following* symlinks (each link becomes the file or directory it points to) and leave
out the admin's parts (LocalSettings.php, images, cache) that Debian keeps in /etc and /var.

An official tarball (``mediawiki-1.43.5.tar.gz`` from releases.wikimedia.org, pinned by its sha256) is
downloaded once into ``$XDG_CACHE_HOME/mwrelease/tarballs/<sha256>``, checked member by member, and its one
top directory (``mediawiki-1.43.5/``) becomes the core tree, exactly as a ``--core-tree`` would.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mwrelease.cachedir import user_cache_dir
from mwrelease.errors import ConfigError, EngineError, IntegrityError, SourceError
from mwrelease.fsutil import member_paths, safe_extract
from mwrelease.mwtree import ADMIN_ENTRIES, DEBIAN_CORE_PATH, DEBIAN_ENTRIES
from mwrelease.release.download import http_session, read_chunks, stream_verified
from mwrelease.release.manifest import sha256_file

def materialize(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` following every symlink; dangling links are left out, admin entries too."""
    if not (src / "index.php").exists():
        raise ConfigError(f"{src} is not a MediaWiki core tree (no index.php).",
                          hint="Pass the directory that holds index.php, e.g. /usr/share/mediawiki.")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip: set[str] = set()
        if Path(directory) == src:
            skip |= (ADMIN_ENTRIES | DEBIAN_ENTRIES) & set(names)
        for n in names:
            p = os.path.join(directory, n)
            if os.path.islink(p) and not os.path.exists(p):
                skip.add(n)  # dangling (e.g. a link into /etc that only exists on a configured host)
            elif not os.path.islink(p):
                mode = os.lstat(p).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    skip.add(n)
        return skip

    shutil.copytree(src, dest, symlinks=False, ignore=ignore, dirs_exist_ok=True)
    core_exts = src / "extensions-core"
    if core_exts.is_dir():
        (dest / "extensions").mkdir(exist_ok=True)
        for ext in sorted(core_exts.iterdir()):
            if ext.is_dir() and not (dest / "extensions" / ext.name).exists():
                shutil.copytree(ext, dest / "extensions" / ext.name, symlinks=False, ignore=ignore)


def extract_from_image(image: str, dest: Path, *, path: str = DEBIAN_CORE_PATH) -> None:
    """Extract core from a core image (Debian's tree, symlinks resolved) into ``dest`` with the container layer."""
    try:
        from mwrelease.runner.engine import Engine
    except ImportError as exc:  # pragma: no cover - the runner is another part of the project
        raise EngineError(f"The container layer is not available ({exc}).",
                          hint="Pass --core-tree DIR with a core tree in the upstream layout instead.") from None
    engine = Engine.connect()
    excludes = " ".join(f"--exclude=./{e}" for e in sorted(ADMIN_ENTRIES | DEBIAN_ENTRIES))
    with engine.container(image, network_mode="none", keep=False) as c:
        # -h follows symlinks: Debian's links into /usr/share/php become real files, as upstream has them;
        # --hard-dereference: files reached twice (extensions/X -> extensions-core/X) are stored twice.
        res = c.exec(["sh", "-c", f"tar -C {path} -ch --hard-dereference -f /tmp/core.tar {excludes} . 2>/tmp/tar.err; "
                                   "echo $? >/tmp/tar.rc; cat /tmp/tar.err | tail -5"], timeout=600)
        data = c.get_file("/tmp/core.tar")
    raw = data if isinstance(data, bytes) else Path(str(data)).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        tar_path = Path(tmp, "core.tar")
        tar_path.write_bytes(raw)
        # -h resolved every link inside the container, so the archive holds only files and directories;
        # GNU tar refuses absolute and '..' member names on its own.
        stage = Path(tmp, "x")
        subprocess.run(["tar", "-C", str(stage.parent), "-xf", str(tar_path), "--one-top-level=x",
                        "--no-same-owner", "--no-same-permissions"], check=True, capture_output=True)
        if not (stage / "index.php").exists():
            raise IntegrityError(f"The tree extracted from {image}:{path} has no index.php ({res.output[-300:]}).",
                                 hint="Rebuild the core image.")
        materialize(stage, dest)


_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, kw_only=True)
class CoreTarball:
    """An official release tarball: a local path, a file:// or an http(s):// URL, and the sha256 it must have."""

    url: str
    sha256: str  # lower-case hex

    @classmethod
    def from_options(cls, url: str | None, sha256: str | None) -> CoreTarball | None:
        """From --core-tarball/--core-sha256: None when neither is given, ConfigError when only one is or the
        digest is not 64 hex digits."""
        if url is None and sha256 is None:
            return None
        if not url:
            raise ConfigError("--core-sha256 was given without --core-tarball; the digest pins a tarball, so it "
                              "needs one.", hint="Add --core-tarball URL_OR_PATH, or drop --core-sha256.")
        if not sha256:
            raise ConfigError(f"--core-tarball {url} needs --core-sha256: a core tarball is only used when its "
                              "sha256 is pinned, so that a changed or tampered download cannot become a release.",
                              hint="Pass --core-sha256 with the digest published in the release announcement, "
                                   "or use --core-tree DIR.")
        if not _SHA256.match(sha256.strip()):
            raise ConfigError(f"--core-sha256 {sha256!r} is not a sha256 digest (64 hexadecimal digits).",
                              hint="Copy the digest from the release announcement.")
        return cls(url=url, sha256=sha256.strip().lower())

    def to_json(self) -> dict[str, str]:
        return {"type": "tarball", "url": self.url, "sha256": self.sha256}


def tarball_cache_dir() -> Path:
    """Where downloaded core tarballs are kept, by sha256 (beside the git cache: $XDG_CACHE_HOME/mwrelease)."""
    return user_cache_dir("tarballs")


def fetch_tarball(src: CoreTarball, *, say: Callable[[str], None] | None = None, retries: int = 3,
                  timeout: float = 60.0) -> Path:
    """A local copy of the tarball whose sha256 is ``src.sha256``: the file itself for a path or file:// URL,
    else a download cached under ``tarball_cache_dir()``. SourceError when it cannot be read, IntegrityError
    when its digest differs; nothing but the cache is written."""
    parsed = urllib.parse.urlparse(src.url)
    if parsed.scheme in ("http", "https"):
        cached = tarball_cache_dir() / src.sha256
        if cached.is_file():
            if sha256_file(cached) == src.sha256:
                if say:
                    say(f"using {src.url} from the cache ({cached})")
                return cached
            cached.unlink()  # damaged in the cache: fetch it again
        if say:
            say(f"downloading {src.url} ...")

        def mismatch(actual: str, size: int, too_large: bool) -> IntegrityError:
            return _digest_error(src, actual)

        chunks = read_chunks(src.url, session=http_session(retries), timeout=timeout,
                             hint="Check the URL and the network, then run the command again; nothing was built.")
        return stream_verified(chunks, cached, sha256=src.sha256, mismatch=mismatch)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"--core-tarball {src.url}: a file:// URL names a file on this machine, not on "
                              f"{parsed.netloc!r}.", hint="Use file:///path/to/mediawiki-X.Y.Z.tar.gz or a plain path.")
        path = Path(urllib.parse.unquote(parsed.path))
    elif parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (or a Windows drive letter)
        path = Path(src.url)
    else:
        raise ConfigError(f"--core-tarball {src.url}: scheme {parsed.scheme!r} is not supported.",
                          hint="Use a path, a file:// URL or an http(s):// URL.")
    if not path.is_file():
        raise SourceError(f"The core tarball {src.url} cannot be read: {path} is not a file.",
                          hint="Check the path, or download the tarball first.")
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise SourceError(f"The core tarball {src.url} cannot be read: {exc.strerror}.") from None
    if actual != src.sha256:
        raise _digest_error(src, actual)
    return path


def _digest_error(src: CoreTarball, actual: str) -> IntegrityError:
    return IntegrityError(f"The core tarball {src.url} has sha256 {actual}, but --core-sha256 expects {src.sha256}; "
                          "it is not the tarball that was pinned (damaged, tampered with, or another release), so "
                          "nothing was built from it.", hint="Check the digest against the release announcement and "
                          "the URL; download again if the file was damaged.")


def tarball_top_directory(tarball: Path, url: str) -> str:
    """The one top directory of an upstream-style tarball (``mediawiki-1.43.5``) that holds index.php.

    Every member is checked first (IntegrityError for ``..``, absolute paths, links out of the tree, devices);
    ConfigError when there is not exactly one top directory or it holds no index.php.
    """
    paths = [p for p in member_paths(tarball) if p]
    tops = sorted({p.split("/", 1)[0] for p in paths})
    if len(tops) != 1 or not any(p.startswith(tops[0] + "/") for p in paths):
        shown = ", ".join(tops[:5]) + (f", ... ({len(tops)} in all)" if len(tops) > 5 else "")
        raise ConfigError(f"The core tarball {url} does not have one top directory as a MediaWiki release tarball "
                          f"has (mediawiki-X.Y.Z/); its top level is: {shown or 'empty'}.",
                          hint="Use an official tarball from releases.wikimedia.org, or unpack it and pass --core-tree.")
    top = tops[0]
    if f"{top}/index.php" not in paths:
        raise ConfigError(f"The core tarball {url} is not a MediaWiki core tarball: its top directory {top}/ has "
                          "no index.php.", hint="Use an official tarball from releases.wikimedia.org.")
    return top


def extract_from_tarball(tarball: Path, top: str, dest: Path) -> None:
    """Unpack ``top/`` of a checked tarball (see ``tarball_top_directory``) and materialize it into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".core-tarball-", dir=dest.parent) as tmp:
        safe_extract(tarball, Path(tmp), top + "/")
        materialize(Path(tmp), dest)


def copy_dir(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=False)


def tmpdir_near(path: Path, prefix: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=path))
