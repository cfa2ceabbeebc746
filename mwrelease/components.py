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

from mwrelease.errors import ConfigError, IntegrityError, SourceError
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
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))


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
    Uses the 'data' filter where Python has extraction filters (3.11.4+; bookworm ships 3.11.2)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for m in tar.getmembers():
        target = (dest / m.name).resolve()
        if m.name.startswith("/") or not (target == root or root in target.parents):
            raise SourceError(f"The archive member {m.name!r} would be written outside {dest}.")
        if m.issym() or m.islnk():
            link = (target.parent / m.linkname).resolve() if m.issym() else (dest / m.linkname).resolve()
            if m.linkname.startswith("/") or not (link == root or root in link.parents):
                raise SourceError(f"The archive link {m.name!r} -> {m.linkname!r} points outside {dest}.")
        if m.isdev():
            raise SourceError(f"The archive holds a device file {m.name!r}.")
    tar.extractall(dest)


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
        data = Path(url.removeprefix("file://")).read_bytes()
    if comp.source.sha256 and hashlib.sha256(data).hexdigest() != comp.source.sha256.lower():
        raise IntegrityError(f"The tarball of {comp.name} ({url}) does not match the lock's sha256.")
    dest = workdir / "tarball" / comp.name
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        safe_extract(tar, dest)
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
