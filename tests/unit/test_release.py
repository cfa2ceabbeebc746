from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.fsutil import safe_extract
from mwrelease.lock import LockedComponent, Source
from mwrelease.release.archive import unpack_verified
from mwrelease.release.build import build_release
from mwrelease.release.lines import min_upgrade_line, upgrades_from
from mwrelease.release.manifest import Manifest, check_sha256sums
from mwrelease.release.treediff import verify_tree
from tests.unit.helpers import CITE, make_core, make_lock


def test_build_full_release(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.5", outside=tmp_path / "etc")
    ext = tmp_path / "MyExt"
    ext.mkdir()
    (ext / "extension.json").write_text(json.dumps({"name": "MyExt", "version": "2.0"}))
    myext = LockedComponent(name="MyExt", kind="extension", ref="v2", ref_type="tag", commit=None, version="2.0",
                            source=Source(type="path", path=str(ext)), catalog="test")
    out = tmp_path / "out"
    (full,) = build_release(make_lock("1.43.5", (CITE, myext)), core, out)
    m = Manifest.load(full.manifest_path)
    paths = {f.path for f in m.files}
    assert "vendor/lib/Lib.php" in paths  # the Debian symlink became a real file
    assert "LocalSettings.php" not in paths and not any(p.startswith("images") for p in paths)
    assert "extensions/MyExt/extension.json" in paths
    assert m.core_line == "1.43" and m.php_requirement == ">=8.1.0"
    assert m.upgrades_from_lines == ("1.39", "1.40", "1.41", "1.42", "1.43")
    assert {c.name: c.source for c in m.components} == {"Cite": "bundled", "MyExt": "path", "Vector": "core-tree"}
    assert {f.path: f.mode for f in m.files}["maintenance/run.sh"] == 0o755
    with tarfile.open(full.tarball) as tar:
        assert all(n.startswith("mediawiki-1.43.5") for n in tar.getnames())
    check_sha256sums(full.tarball)
    dest = tmp_path / "unpacked"
    unpack_verified(full.tarball, m, dest)
    assert (dest / "vendor/lib/Lib.php").read_text() == "<?php // lib\n"


def test_build_is_reproducible(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.5")
    (a,) = build_release(make_lock("1.43.5"), core, tmp_path / "a")
    (b,) = build_release(make_lock("1.43.5"), core, tmp_path / "b")
    assert a.sha256 == b.sha256


def test_version_mismatch_is_config_error(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.4")
    with pytest.raises(ConfigError, match="1.43.4"):
        build_release(make_lock("1.43.5"), core, tmp_path / "out")


def test_tampered_tarball_fails_checksum_and_verification(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.5")
    (full,) = build_release(make_lock("1.43.5"), core, tmp_path / "out")
    # Replace the tarball with one whose index.php differs.
    # Same size (so the size check before unpacking passes), other bytes: the verification after it catches it.
    original = (core / "index.php").read_text()
    (core / "index.php").write_text("<?php evil();".ljust(len(original) - 1) + "\n")
    (other,) = build_release(make_lock("1.43.5"), core, tmp_path / "other")
    full.tarball.write_bytes(other.tarball.read_bytes())
    with pytest.raises(IntegrityError, match="SHA256SUMS"):
        check_sha256sums(full.tarball)
    with pytest.raises(IntegrityError, match="does not match its manifest") as exc:
        unpack_verified(full.tarball, full.manifest, tmp_path / "x")
    assert "index.php differs from the manifest" in exc.value.details
    # Another size is refused before a byte is written.
    (core / "index.php").write_text("<?php evil();\n" * 1000)
    (big,) = build_release(make_lock("1.43.5"), core, tmp_path / "big")
    full.tarball.write_bytes(big.tarball.read_bytes())
    with pytest.raises(IntegrityError, match="the manifest says"):
        unpack_verified(full.tarball, full.manifest, tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_edited_manifest_is_refused(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.5")
    (full,) = build_release(make_lock("1.43.5"), core, tmp_path / "out")
    data = json.loads(full.manifest_path.read_text())
    data["files"][0]["sha256"] = "0" * 64
    full.manifest_path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="tree_sha256"):
        Manifest.load(full.manifest_path)


def test_delta_roundtrip(tmp_path: Path) -> None:
    old_core = make_core(tmp_path / "old", "1.43.4", extra={"includes/Gone.php": "<?php\n"})
    (old,) = build_release(make_lock("1.43.4"), old_core, tmp_path / "rel")
    new_core = make_core(tmp_path / "new", "1.43.5", extra={"includes/New.php": "<?php\n"})
    full, delta = build_release(make_lock("1.43.5"), new_core, tmp_path / "rel", previous=old.manifest_path)
    dm = Manifest.load(delta.manifest_path)
    assert dm.kind == "delta" and dm.delta_from == "1.43.4"
    assert set(dm.delta_changed) == {"includes/Defines.php", "includes/New.php"}
    assert dm.delta_removed == ("includes/Gone.php",)
    installed = tmp_path / "installed"
    unpack_verified(old.tarball, old.manifest, installed)
    (installed / "LocalSettings.php").write_text("<?php\n")  # the admin's file is not copied into the release
    dest = tmp_path / "applied"
    unpack_verified(delta.tarball, dm, dest, old_tree=installed)
    verify_tree(dest, full.manifest)
    assert not (dest / "includes/Gone.php").exists()
    sums = (tmp_path / "rel/SHA256SUMS").read_text()
    assert "mediawiki-1.43.4.tar.gz" in sums and delta.tarball.name in sums


def test_delta_over_locally_changed_tree_fails_verification(tmp_path: Path) -> None:
    old_core = make_core(tmp_path / "old", "1.43.4")
    (old,) = build_release(make_lock("1.43.4"), old_core, tmp_path / "rel")
    new_core = make_core(tmp_path / "new", "1.43.5")
    _, delta = build_release(make_lock("1.43.5"), new_core, tmp_path / "rel", previous=old.manifest_path)
    installed = tmp_path / "installed"
    unpack_verified(old.tarball, old.manifest, installed)
    (installed / "api.php").write_text("<?php // hacked locally\n")
    with pytest.raises(IntegrityError):
        unpack_verified(delta.tarball, delta.manifest, tmp_path / "applied", old_tree=installed)


def _tar_with(tmp_path: Path, *members: tarfile.TarInfo) -> Path:
    p = tmp_path / "bad.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        for m in members:
            if m.isfile():
                tar.addfile(m, io.BytesIO(b"x" * m.size))
            else:
                tar.addfile(m)
    return p


def _file(name: str) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.size = 1
    return t


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type, t.linkname = kind, target
    return t


def _dev(name: str) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type = tarfile.CHRTYPE
    return t


@pytest.mark.parametrize("member, why", [
    (_file("mediawiki-1.43.5/../../evil.php"), "'..'"),
    (_file("/etc/evil"), "absolute path"),
    (_file("other/index.php"), "outside the release's top directory"),
    (_link("mediawiki-1.43.5/x", "../../etc/passwd"), "pointing outside"),
    (_link("mediawiki-1.43.5/x", "/etc/passwd"), "absolute path"),
    (_link("mediawiki-1.43.5/x", "/etc/passwd", tarfile.LNKTYPE), "hard link"),
    (_dev("mediawiki-1.43.5/dev"), "device"),
])
def test_unsafe_members_are_refused_before_writing(tmp_path: Path, member: tarfile.TarInfo, why: str) -> None:
    archive = _tar_with(tmp_path, _file("mediawiki-1.43.5/index.php"), member)
    dest = tmp_path / "dest"
    with pytest.raises(IntegrityError, match=why):
        safe_extract(archive, dest, "mediawiki-1.43.5/")
    assert not (dest / "index.php").exists()  # nothing was written
    assert not (tmp_path / "evil.php").exists()


def test_internal_symlink_is_allowed(tmp_path: Path) -> None:
    archive = _tar_with(tmp_path, _file("mediawiki-1.43.5/a/index.php"), _link("mediawiki-1.43.5/b", "a/index.php"))
    written = safe_extract(archive, tmp_path / "d", "mediawiki-1.43.5/")
    assert sorted(written) == ["a/index.php", "b"]


def test_garbage_is_integrity_error(tmp_path: Path) -> None:
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"not a tarball")
    with pytest.raises(IntegrityError, match="cannot be unpacked"):
        safe_extract(p, tmp_path / "d", "mediawiki-1.43.5/")


@pytest.mark.parametrize("line, expected", [("1.43", "1.39"), ("1.39", "1.35"), ("1.42", "1.35"), ("1.35", "1.31")])
def test_min_upgrade_line(line: str, expected: str) -> None:
    assert min_upgrade_line(line) == expected
    assert upgrades_from(line)[0] == expected and upgrades_from(line)[-1] == line


def test_debian_layout_extensions_core_becomes_extensions(tmp_path: Path) -> None:
    core = make_core(tmp_path / "core", "1.43.5", outside=tmp_path / "etc")
    # Debian: bundled extensions in extensions-core/, extensions/ a link to an (empty) admin directory.
    (core / "extensions").rename(core / "extensions-core")
    (tmp_path / "var-ext").mkdir()
    os.symlink(tmp_path / "var-ext", core / "extensions")
    os.symlink(tmp_path / "var-config", core / "config")
    (full,) = build_release(make_lock("1.43.5", (CITE,)), core, tmp_path / "out")
    paths = {f.path for f in full.manifest.files}
    assert "extensions/Cite/extension.json" in paths
    assert not any(p.startswith(("extensions-core/", "config/")) for p in paths)


def test_unpack_without_tarfile_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian bookworm's Python 3.11.2 has no tarfile filters: our own member checks must suffice."""
    from mwrelease import fsutil

    monkeypatch.setattr(fsutil, "_HAS_FILTERS", False)
    core = make_core(tmp_path / "core", "1.43.5")
    (full,) = build_release(make_lock("1.43.5"), core, tmp_path / "out")
    unpack_verified(full.tarball, full.manifest, tmp_path / "x")
    assert os.access(tmp_path / "x/maintenance/run.sh", os.X_OK)
    bad = _tar_with(tmp_path, _file("mediawiki-1.43.5/index.php"), _link("mediawiki-1.43.5/x", "../../etc/passwd"))
    with pytest.raises(IntegrityError):
        safe_extract(bad, tmp_path / "y", "mediawiki-1.43.5/")


def test_tarball_keeps_file_mtimes(tmp_path: Path) -> None:
    """MediaWiki's localisation cache is invalidated by message file mtimes: a release must keep them."""
    core = make_core(tmp_path / "core", "1.43.5")
    os.utime(core / "index.php", (1_600_000_000, 1_600_000_000))
    (full,) = build_release(make_lock("1.43.5"), core, tmp_path / "out")
    with tarfile.open(full.tarball) as tar:
        assert tar.getmember("mediawiki-1.43.5/index.php").mtime == 1_600_000_000
    unpack_verified(full.tarball, full.manifest, tmp_path / "x")
    assert int((tmp_path / "x/index.php").stat().st_mtime) == 1_600_000_000
