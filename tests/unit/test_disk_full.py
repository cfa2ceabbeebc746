"""A disk that fills up while mwrelease unpacks or copies (issue 12, finding 6): DiskFull with its own exit code
(13, never 1 "a bug" nor 8 "damaged"), one paragraph saying where and what to do, and nothing half-written left.

ENOSPC is simulated: the file write of tarfile (``TarFile.makefile``) or shutil (``copyfile``) writes a little,
then raises it, as a real full filesystem does."""

from __future__ import annotations

import errno
import hashlib
import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mwrelease.cli import cli
from mwrelease.components import unpack_tarball
from mwrelease.errors import EXIT_CODES, DiskFull
from mwrelease.fsutil import safe_extract
from mwrelease.lock import LockedComponent, Source
from tests.unit.helpers import make_core, make_lock


def _tarball(path: Path, top: str = "Foo", files: int = 4) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for i in range(files):
            data = f"<?php // file {i}\n".encode() * 50
            info = tarfile.TarInfo(f"{top}/sub/f{i}.php" if i % 2 else f"{top}/f{i}.php")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def full_after_one_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second file tarfile writes meets a full disk, half written."""
    real = tarfile.TarFile.makefile
    count = [0]

    def makefile(self: tarfile.TarFile, tarinfo: tarfile.TarInfo, targetpath: str) -> None:
        count[0] += 1
        if count[0] >= 2:
            Path(targetpath).write_bytes(b"<?php // half")
            raise OSError(errno.ENOSPC, "No space left on device", targetpath)
        real(self, tarinfo, targetpath)

    monkeypatch.setattr(tarfile.TarFile, "makefile", makefile)


def test_safe_extract_says_disk_full_and_removes_what_it_unpacked(tmp_path: Path, full_after_one_file: None) -> None:
    archive = _tarball(tmp_path / "r.tar.gz", "mediawiki-1.43.5")
    dest = tmp_path / "new-tree"
    with pytest.raises(DiskFull) as exc:
        safe_extract(archive, dest, "mediawiki-1.43.5/")
    e = exc.value
    assert e.exit_code not in (0, 1) and e.exit_code in EXIT_CODES and "disk" in EXIT_CODES[e.exit_code]
    assert "disk filled up" in e.message and str(dest) in e.message and "damaged" not in e.message
    assert e.hint and "Free space" in e.hint and "another" in e.hint
    assert not dest.exists()
    # A folder that was there before stays, without what was unpacked into it.
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine").write_text("x")
    with pytest.raises(DiskFull):
        safe_extract(archive, kept, "mediawiki-1.43.5/")
    assert sorted(p.name for p in kept.iterdir()) == ["mine"]


def _tarball_lock(tmp_path: Path, version: str) -> Path:
    tb = _tarball(tmp_path / "Foo.tar.gz")
    comp = LockedComponent(name="Foo", kind="extension", ref=None, ref_type="tree", commit=None, version="1.0",
                           source=Source(type="tarball", url=str(tb), sha256=hashlib.sha256(tb.read_bytes()).hexdigest()),
                           catalog="t")
    lock_path = tmp_path / "l.lock"
    make_lock(version, (comp,)).dump(lock_path)
    return lock_path


def _build(tmp_path: Path, lock_path: Path) -> Any:
    core = make_core(tmp_path / "core", "1.43.5")
    return CliRunner().invoke(cli, ["release", "build", str(lock_path), "--core-tree", str(core),
                                    "--out-dir", str(tmp_path / "out"), "--json"])


def test_release_build_with_a_tarball_component_on_a_full_disk_exits_13(
        tmp_path: Path, full_after_one_file: None) -> None:
    r = _build(tmp_path, _tarball_lock(tmp_path, "1.43.5"))
    assert r.exit_code == DiskFull.exit_code, r.output
    err = __import__("json").loads(r.stdout)["errors"][0]
    assert err["kind"] == "disk-full" and "disk filled up" in err["message"] and "Foo" in err["message"]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]  # no artifact, no half-built tree


def test_copying_a_component_into_the_release_tree_on_a_full_disk_exits_13(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "Bar"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        (src / "sub" / f"f{i}.php").write_text("<?php\n")
    comp = LockedComponent(name="Bar", kind="extension", ref=None, ref_type="tree", commit=None, version="1.0",
                           source=Source(type="path", path=str(src)), catalog="t")
    lock_path = tmp_path / "l.lock"
    make_lock("1.43.5", (comp,)).dump(lock_path)
    real = shutil.copyfile

    def copyfile(s: str, d: str, **kw: Any) -> Any:  # what copytree's copy2 calls to write the bytes
        if "/extensions/Bar/" in str(d) and str(d).endswith("f1.php"):
            Path(d).write_text("<?php // ha")
            raise OSError(errno.ENOSPC, "No space left on device", str(d))
        return real(s, d, **kw)

    monkeypatch.setattr(shutil, "copyfile", copyfile)
    r = _build(tmp_path, lock_path)
    assert r.exit_code == DiskFull.exit_code, r.output
    assert "disk filled up" in r.stdout and "copying extension Bar" in r.stdout
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_runner_tarball_on_a_full_disk_is_disk_full_and_leaves_nothing(
        tmp_path: Path, full_after_one_file: None) -> None:
    tb = _tarball(tmp_path / "Foo.tar.gz")
    comp = LockedComponent(name="Foo", kind="extension", ref=None, ref_type="tree", commit=None, version="1.0",
                           source=Source(type="tarball", url=str(tb)), catalog="t")
    work = tmp_path / "work"
    with pytest.raises(DiskFull) as exc:
        unpack_tarball(comp, work)
    assert "disk filled up" in exc.value.message and exc.value.exit_code == DiskFull.exit_code
    assert not (work / "tarball" / "Foo").exists()


def test_a_release_build_that_fills_the_disk_leaves_no_artifact_of_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mwrelease.release import build

    out = tmp_path / "out"
    out.mkdir()
    (out / "mediawiki-1.43.4.tar.gz").write_text("an earlier release, kept")

    def full(path: Path, data: Any, **kw: Any) -> None:  # the tarball is written; its manifest meets a full disk
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(build, "write_atomic", full)
    lock_path = tmp_path / "l.lock"
    make_lock("1.43.5").dump(lock_path)
    r = _build(tmp_path, lock_path)
    assert r.exit_code == DiskFull.exit_code, r.output
    assert "disk filled up while building release 1.43.5" in r.stdout and str(out) in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["mediawiki-1.43.4.tar.gz"]  # no lone tarball without manifest
