"""A locked component's tree on the host: a ``git``, ``path``, ``tarball`` or ``bundled`` source at its locked ref.

One home for what the cell runner (``runner.cell`` copies the tree into a container) and the release
build (which copies it into the staged release tree) both need:

    tree = component_tree(comp, workdir)      # a directory holding the component as locked
    put_component(comp, dest, workdir)        # the same, copied to ``dest`` (which is replaced)

A git source is cloned and checked out at the locked commit (else the ref) and HEAD is checked against
the lock's commit, so a moved ref never slips through as the locked one.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from mwrelease.errors import ConfigError, DiskFull, IntegrityError, SourceError
from mwrelease.fsutil import disk_full, is_disk_full
from mwrelease.lock import LockedComponent


def component_tree(comp: LockedComponent, workdir: Path) -> Path:
    """A host directory holding ``comp`` at its locked ref (made under ``workdir`` when it must be)."""
    if comp.source.type == "bundled":
        return bundled_tree(comp)
    if comp.source.type == "path":
        if not comp.source.path:
            raise SourceError(f"{comp.name} has a path source without a path.")
        src = Path(comp.source.path)
    elif comp.source.type == "git":
        src = git_checkout(comp, workdir)
    elif comp.source.type == "tarball":
        src = unpack_tarball(comp, workdir)
    else:
        raise ConfigError(f"{comp.kind} {comp.name}: unknown source type {comp.source.type!r}.")
    if not src.is_dir():
        raise SourceError(f"The tree of {comp.name} ({src}) does not exist.")
    return src


def put_component(comp: LockedComponent, dest: Path, workdir: Path) -> None:
    """Make the host directory ``dest`` hold ``comp`` at its locked ref (without ``.git``), replacing it."""
    src = component_tree(comp, workdir)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    try:
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    except OSError as exc:  # shutil.Error (copytree's collected failures) too
        if not is_disk_full(exc):
            raise
        shutil.rmtree(dest, ignore_errors=True)
        raise disk_full(dest, f"copying {comp.kind} {comp.name}", exc) from exc


def bundled_tree(comp: LockedComponent) -> Path:
    """A ``bundled`` component of a lock made for another core line: take it from the core tree the
    lock was resolved from (``catalog: core:DIR``), since the image's own bundled copy is another ref."""
    if not comp.catalog.startswith("core:"):
        raise SourceError(f"{comp.name} is bundled with MediaWiki {comp.ref}, but this cell runs another core "
                          "line and the lock does not say which core tree it came from.",
                          hint="Resolve the lock with --catalog core:DIR, or give the component a path/git source.")
    root = Path(comp.catalog.removeprefix("core:"))
    sub = ["skins"] if comp.kind == "skin" else ["extensions-core", "extensions"]
    for s in sub:
        if (root / s / comp.name).is_dir():
            return root / s / comp.name
    raise SourceError(f"{comp.name} is not in the core tree {root} the lock was resolved from.",
                      hint="Run ci/fetch-core-trees.sh to unpack the core trees under .cache/cores.")


def git_checkout(comp: LockedComponent, workdir: Path) -> Path:
    """The component's tree at its locked commit (or ref), checked out on the host without .git.

    When the lock pins a commit, HEAD after the checkout must be that commit (IntegrityError if not)."""
    url = comp.source.url or comp.source.path
    if not url:
        raise SourceError(f"{comp.name} has a git source without a URL.")
    dest = workdir / "git" / comp.name
    want = comp.commit or comp.ref or "HEAD"

    def git(*args: str, cwd: Path | None = None) -> str:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        if r.returncode != 0:
            raise SourceError(f"git {' '.join(args[:2])} for {comp.name} failed: {r.stderr.strip()}",
                              hint=f"Check that {url} is reachable and has {want}.")
        return r.stdout

    git("clone", "--quiet", "--no-checkout", url, str(dest))
    # The locked commit when the lock pinned one; else the ref (a branch: whatever it holds today).
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", want, cwd=dest)
    if comp.commit:
        head = git("rev-parse", "HEAD", cwd=dest).strip()
        if head != comp.commit:
            raise IntegrityError(f"{comp.kind} {comp.name}: {url} at {want} is commit {head}, "
                                 f"the lock says {comp.commit}.")
    shutil.rmtree(dest / ".git", ignore_errors=True)
    return dest


def safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract refusing anything that would land outside ``dest`` (an extension tarball is untrusted).

    Uses the 'data' filter where Python has extraction filters (3.11.4+). Without them (Debian bookworm's
    3.11.2) members are extracted one at a time, each checked against what is already on disk, so that a
    chain of links (``a -> .``, ``b -> a/..``, ``c -> b/..``) is resolved as the kernel will resolve it.
    Either way every link left in ``dest`` is checked again at the end (a later member may have turned an
    earlier, harmless link into one that escapes); on any refusal ``dest`` is emptied and SourceError raised.
    """
    try:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            _extract_checked(tar, dest)
        _check_links(dest)
    except (SourceError, tarfile.TarError, OSError) as exc:
        _empty(dest)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full(dest, "unpacking a tarball", exc) from exc
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"Refused to unpack an archive into {dest}: {exc}") from exc


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _extract_checked(tar: tarfile.TarFile, dest: Path) -> None:
    root = dest.resolve()
    # Our own checks replace the filter; Pythons that have filters (only in tests here) must not warn.
    trusted: dict[str, str] = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    for m in tar.getmembers():
        name = m.name
        if name.startswith("/") or ".." in Path(name).parts:
            raise SourceError(f"The archive member {name!r} would be written outside {dest}.")
        if m.isdev() or m.isfifo():
            raise SourceError(f"The archive holds a device or FIFO {name!r}.")
        # The parent as it really is on disk now: every link already extracted is followed.
        parent = Path(os.path.realpath(dest / name)).parent if not m.issym() else None
        where = Path(os.path.realpath((dest / name).parent))
        if not _inside(where, root) or (parent is not None and not _inside(parent, root)):
            raise SourceError(f"The archive member {name!r} would be written outside {dest} (through a link).")
        if m.issym():
            if m.linkname.startswith("/") or not _inside(Path(os.path.realpath(where / m.linkname)), root):
                raise SourceError(f"The archive link {name!r} -> {m.linkname!r} points outside {dest}.")
        if m.islnk():
            if m.linkname.startswith("/") or not _inside(Path(os.path.realpath(dest / m.linkname)), root):
                raise SourceError(f"The archive link {name!r} -> {m.linkname!r} points outside {dest}.")
        m.mode &= 0o755  # no setuid/setgid/sticky, nothing writable by others
        tar.extract(m, dest, **trusted)  # type: ignore[arg-type]


def _check_links(dest: Path) -> None:
    root = dest.resolve()
    for dirpath, dirnames, filenames in os.walk(dest):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_symlink() and not _inside(Path(os.path.realpath(p)), root):
                raise SourceError(f"The archive link {p.relative_to(dest)} -> {os.readlink(p)!r} points outside {dest}.")


def _empty(dest: Path) -> None:
    for child in dest.iterdir() if dest.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def unpack_tarball(comp: LockedComponent, workdir: Path) -> Path:
    url = comp.source.url or comp.source.path
    if not url:
        raise SourceError(f"{comp.name} has a tarball source without a URL.")
    if url.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(url, timeout=300)
            resp.raise_for_status()
        except Exception as exc:
            raise SourceError(f"Cannot download {comp.name} from {url}: {exc}") from exc
        data = resp.content
    else:
        try:
            data = Path(url.removeprefix("file://")).read_bytes()
        except OSError as exc:
            raise SourceError(f"Cannot read the tarball of {comp.name} ({url}): {exc}") from exc
    if comp.source.sha256 and hashlib.sha256(data).hexdigest() != comp.source.sha256.lower():
        raise IntegrityError(f"The tarball of {comp.name} ({url}) does not match the lock's sha256.")
    dest = workdir / "tarball" / comp.name
    try:
        dest.mkdir(parents=True)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(dest, f"unpacking the tarball of {comp.name}", exc) from exc
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            safe_extract(tar, dest)
    except (tarfile.TarError, EOFError, OSError) as exc:  # not a tarball, truncated, damaged
        raise SourceError(f"The tarball of {comp.name} ({url}) cannot be unpacked: {exc}") from exc
    except SourceError as exc:
        raise SourceError(f"{comp.name}: {exc.message}", hint="The tarball is refused; nothing of it is used.") from exc
    except DiskFull:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
