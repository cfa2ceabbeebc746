"""Real extension trees as catalog sources: the archives of ``shared/data/extension-trees`` unpacked
into ``.cache/extension-trees/<branch>/<Name>`` (a ``tree:`` source per branch) and turned into local
git repositories ``.cache/extension-git/<Name>.git`` with one ``REL1_xx`` branch per archive (a
``git:`` source each).

An archive (``git archive``) has no history, so the upstream commit cannot be recreated; each
branch's commit is made deterministically (fixed author, the upstream commit date) and records the
upstream commit and repository in its message and in a ``git notes`` note, and the tag
``upstream/<branch>`` carries the same in its message.

    python -m mwrelease.ci.trees ../shared/data/extension-trees .cache
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mwrelease.errors import IntegrityError, SourceError


@dataclass(frozen=True, kw_only=True)
class TreeArchive:
    name: str
    kind: str
    branch: str
    commit: str
    committed: str
    file: str
    sha256: str
    repository: str


def read_index(directory: Path) -> list[TreeArchive]:
    try:
        rows = json.loads((directory / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise SourceError(f"{directory}/index.json cannot be read: {exc}") from None
    return [TreeArchive(name=r["name"], kind=r["kind"], branch=r["branch"], commit=r["commit"],
                        committed=r.get("committed", ""), file=r["file"], sha256=r["sha256"],
                        repository=r.get("repository", "")) for r in rows]


def unpack(directory: Path, archive: TreeArchive, target: Path) -> Path:
    """``target/<branch>/<Name>``, from the archive after its sha256 is checked (kept when present)."""
    dest = target / archive.branch / archive.name
    stamp = dest / ".mwrelease-archive-sha256"
    if stamp.is_file() and stamp.read_text().strip() == archive.sha256:
        return dest
    path = directory / archive.file
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != archive.sha256:
        raise IntegrityError(f"{path}: sha256 {digest} is not the index's {archive.sha256}.")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            if not (m.name == archive.name or m.name.startswith(archive.name + "/")) or m.issym() and \
                    os.path.isabs(m.linkname):
                raise IntegrityError(f"{path}: member {m.name!r} is outside {archive.name}/.")
        tar.extractall(dest.parent, filter="data")
    stamp.write_text(archive.sha256 + "\n")
    return dest


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "mwrelease", "GIT_AUTHOR_EMAIL": "mwrelease@invalid",
            "GIT_COMMITTER_NAME": "mwrelease", "GIT_COMMITTER_EMAIL": "mwrelease@invalid"}
    r = subprocess.run(["git", *args], cwd=repo, env={**base, **(env or {})}, capture_output=True, text=True,
                       input=input)
    if r.returncode:
        raise SourceError(f"git {' '.join(args)} in {repo} failed: {r.stderr.strip()}")
    return r.stdout.strip()


def git_repository(trees: Path, archives: list[TreeArchive], repos: Path) -> Path:
    """``repos/<Name>.git`` (bare) with a branch per archive of one extension, rebuilt from the trees."""
    name = archives[0].name
    repo = repos / f"{name}.git"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "--bare", "-b", archives[0].branch)
    for a in sorted(archives, key=lambda a: a.branch):
        tree = trees / a.branch / a.name
        env = {"GIT_DIR": str(repo), "GIT_WORK_TREE": str(tree), "GIT_INDEX_FILE": str(repo / f"index-{a.branch}"),
               "GIT_AUTHOR_DATE": a.committed, "GIT_COMMITTER_DATE": a.committed}
        _git(tree, "add", "-A", "-f", ".", ":(exclude).mwrelease-archive-sha256", env=env)
        tree_id = _git(tree, "write-tree", env=env)
        message = (f"{a.name} {a.branch} as archived from upstream\n\nUpstream-Commit: {a.commit}\n"
                   f"Upstream-Repository: {a.repository}\nArchive-Sha256: {a.sha256}\n")
        commit = _git(repo, "commit-tree", tree_id, env=env, input=message)
        _git(repo, "update-ref", f"refs/heads/{a.branch}", commit)
        _git(repo, "notes", "add", "-f", "-m", f"upstream {a.repository} {a.commit}", commit, env=env)
        _git(repo, "tag", "-a", "-f", f"upstream/{a.branch}", "-m",
             f"upstream commit {a.commit} of {a.repository} ({a.branch})", commit, env=env)
        (repo / f"index-{a.branch}").unlink(missing_ok=True)
    return repo


def build(directory: Path, cache: Path) -> dict[str, list[str]]:
    """Unpack every archive and build every repository; returns name -> branches."""
    archives = read_index(directory)
    cache = cache.resolve()
    trees, repos = cache / "extension-trees", cache / "extension-git"
    by_name: dict[str, list[TreeArchive]] = {}
    for a in archives:
        unpack(directory, a, trees)
        by_name.setdefault(a.name, []).append(a)
    for group in by_name.values():
        git_repository(trees, group, repos)
    return {n: sorted(a.branch for a in g) for n, g in sorted(by_name.items())}


if __name__ == "__main__":  # pragma: no cover - ci/extension-trees.sh
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/extension-trees")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else ".cache")
    for n, branches in build(src, out).items():
        print(f"{n}: {', '.join(branches)}")
