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


# --- safe_extract: a chain of links must not escape, with or without Python's tar filters ----------------

def _chain_tarball(path: Path) -> None:
    """a -> ., b -> a/.., c -> b/.. (each harmless-looking alone), then a file written through c."""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, target in (("a", "."), ("b", "a/.."), ("c", "b/..")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        data = b"escaped"
        f = tarfile.TarInfo("c/escaped.txt")
        f.size = len(data)
        tar.addfile(f, io.BytesIO(data))


def _late_escape_tarball(path: Path) -> None:
    """x -> d/e/../.. is inside while d/e -> ../f/g; a later member re-points d/e to ".", so x then points
    one level above the destination (each member checked alone at its turn is harmless)."""
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name in ("d", "f", "f/g"):
            d = tarfile.TarInfo(name)
            d.type = tarfile.DIRTYPE
            tar.addfile(d)
        for name, target in (("d/e", "../f/g"), ("x", "d/e/../.."), ("d/e", ".")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)


@pytest.mark.parametrize("filters", [True, False], ids=["data-filter", "no-filters-bookworm-3.11.2"])
@pytest.mark.parametrize("make", [_chain_tarball, _late_escape_tarball], ids=["chain", "late-escape"])
def test_safe_extract_refuses_link_chains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: bool,
                                          make: object) -> None:
    import tarfile

    from mwrelease.components import safe_extract

    if not filters:
        # What Debian bookworm's Python 3.11.2 looks like: no extraction filters at all.
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "evil.tar"
    make(archive)  # type: ignore[operator]
    dest = tmp_path / "box" / "dest"
    dest.mkdir(parents=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with tarfile.open(archive) as tar, pytest.raises(SourceError):
        safe_extract(tar, dest)
    assert not (tmp_path / "box" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert list(dest.iterdir()) == []  # nothing of a refused archive is left to use
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("filters", [True, False], ids=["data-filter", "no-filters-bookworm-3.11.2"])
def test_safe_extract_keeps_harmless_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: bool) -> None:
    import io
    import tarfile

    from mwrelease.components import safe_extract

    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "ok.tar"
    with tarfile.open(archive, "w") as tar:
        f = tarfile.TarInfo("Ext/extension.json")
        f.size = 2
        tar.addfile(f, io.BytesIO(b"{}"))
        link = tarfile.TarInfo("Ext/alias.json")
        link.type, link.linkname = tarfile.SYMTYPE, "extension.json"
        tar.addfile(link)
    with tarfile.open(archive) as tar:
        safe_extract(tar, tmp_path / "out")
    assert (tmp_path / "out" / "Ext" / "alias.json").read_text() == "{}"


def test_a_refused_tarball_is_a_source_error_of_its_component(tmp_path: Path) -> None:
    import hashlib

    archive = tmp_path / "evil.tar"
    _chain_tarball(archive)
    comp = LockedComponent(name="Evil", kind="extension", ref=None, ref_type="tree", commit=None, version=None,
                           source=Source(type="tarball", url=str(archive),
                                         sha256=hashlib.sha256(archive.read_bytes()).hexdigest()), catalog="t")
    with pytest.raises(SourceError) as info:
        component_tree(comp, tmp_path / "work")
    assert "Evil" in info.value.message
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(SourceError):
        component_tree(LockedComponent(name="Broken", kind="extension", ref=None, ref_type="tree", commit=None,
                                       version=None, source=Source(type="tarball", url=str(broken)), catalog="t"),
                       tmp_path / "work2")
