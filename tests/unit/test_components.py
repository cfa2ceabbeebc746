"""mwrelease.components: a locked component's tree on the host (git checked against the locked commit)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mwrelease.components import component_tree, put_component
from mwrelease.errors import IntegrityError, SourceError
from mwrelease.lock import LockedComponent, Source


def comp(source: Source, *, ref: str | None = "main", commit: str | None = None) -> LockedComponent:
    return LockedComponent(name="Foo", kind="extension", ref=ref, ref_type="branch", commit=commit, version=None,
                           source=source, catalog="t")


def git_repo(root: Path) -> tuple[Path, str, str]:
    """A repository with two commits on main; returns (path, first commit, second commit)."""
    repo = root / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    (repo / "extension.json").write_text('{"name": "Foo", "version": "1.0"}')
    git("add", "-A")
    git("commit", "-qm", "one")
    first = git("rev-parse", "HEAD")
    (repo / "extension.json").write_text('{"name": "Foo", "version": "2.0"}')
    git("commit", "-qam", "two")
    return repo, first, git("rev-parse", "HEAD")


def test_git_source_is_checked_out_at_the_locked_commit(tmp_path: Path) -> None:
    repo, first, _ = git_repo(tmp_path)
    tree = component_tree(comp(Source(type="git", url=str(repo)), commit=first), tmp_path / "work")
    assert '"1.0"' in (tree / "extension.json").read_text() and not (tree / ".git").exists()


def test_git_head_must_be_the_locked_commit(tmp_path: Path) -> None:
    repo, first, second = git_repo(tmp_path)
    # An abbreviated commit in the lock checks out, but HEAD is not literally what the lock says.
    with pytest.raises(IntegrityError, match="the lock says"):
        component_tree(comp(Source(type="git", url=str(repo)), commit=first[:12]), tmp_path / "work")
    tree = component_tree(comp(Source(type="git", url=str(repo)), commit=second), tmp_path / "work2")
    assert '"2.0"' in (tree / "extension.json").read_text()


def test_path_source_copied_without_git_and_replacing_dest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / "extension.json").write_text("{}")
    dest = tmp_path / "stage" / "extensions" / "Foo"
    dest.mkdir(parents=True)
    (dest / "old.php").write_text("")
    put_component(comp(Source(type="path", path=str(src))), dest, tmp_path / "work")
    assert sorted(p.name for p in dest.iterdir()) == ["extension.json"]


def test_missing_sources_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        component_tree(comp(Source(type="path", path=str(tmp_path / "nope"))), tmp_path)
    with pytest.raises(SourceError, match="without a URL"):
        component_tree(comp(Source(type="git")), tmp_path)
    with pytest.raises(SourceError, match="does not say which core tree"):
        component_tree(comp(Source(type="bundled")), tmp_path)
