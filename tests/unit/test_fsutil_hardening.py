"""Issue 12, finding 3: paths and sizes are checked before a byte is written.

Crafted tarballs (symlink chains, members under a symlink, sizes that differ from the manifest, a gzip bomb)
are refused by ``safe_extract`` on this Python, on this Python with tar filters switched off, and on Debian
bookworm's own python3 3.11.2 (no tar filters) in a bookworm image (mwrelease/core:1.39-debian). A manifest that names a
path outside the tree is refused when it is read. A full disk is reported as a full disk.
"""

from __future__ import annotations

import errno
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from mwrelease import fsutil
from mwrelease.errors import DiskFull, IntegrityError
from mwrelease.fsutil import safe_extract
from mwrelease.release.manifest import Manifest
from tests.unit.helpers import make_core, make_lock

REPO = Path(__file__).resolve().parents[2]


def _tar(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    """members: (name, "file" | "link" | "dir", data or link target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(info)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                raw = data if isinstance(data, bytes) else data.encode()
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
    return path


# Each escapes on Python 3.11.2 with per-member checks alone: every link looks inside the tree by itself.
ATTACKS: dict[str, list[tuple[str, str, bytes | str]]] = {
    "symlink chain": [("b", "dir", ""), ("b/c", "link", ".."), ("e", "link", "b/c/.."), ("e/evil", "file", "pwned")],
    "member under a symlink": [("sub", "dir", ""), ("l", "link", "sub/.."), ("up", "link", "l/.."),
                               ("up/evil", "file", "pwned")],
    "link to a link's parent": [("a", "link", "."), ("a2", "link", "a/.."), ("a2/evil", "file", "pwned")],
}


@pytest.fixture(params=[True, False], ids=["tar-filters", "no-tar-filters"])
def filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param and not fsutil._HAS_FILTERS:
        pytest.skip("this Python has no tar filters")
    monkeypatch.setattr(fsutil, "_HAS_FILTERS", request.param)
    return bool(request.param)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_symlink_escapes_are_refused_before_anything_is_written(tmp_path: Path, attack: str, filters: bool) -> None:
    tb = _tar(tmp_path / "t.tar.gz", ATTACKS[attack])
    dest = tmp_path / "out" / "dest"
    with pytest.raises(IntegrityError, match="unsafe"):
        safe_extract(tb, dest)
    assert not dest.exists() and not (tmp_path / "out" / "evil").exists() and not (tmp_path / "evil").exists()


def test_a_harmless_internal_symlink_still_unpacks(tmp_path: Path, filters: bool) -> None:
    tb = _tar(tmp_path / "t.tar.gz", [("d", "dir", ""), ("d/f", "file", "x"), ("l", "link", "d/f")])
    assert sorted(safe_extract(tb, tmp_path / "dest")) == ["d/f", "l"]
    assert (tmp_path / "dest" / "l").read_text() == "x"


def test_sizes_are_checked_against_the_manifest_and_a_cap_before_writing(tmp_path: Path) -> None:
    bomb = _tar(tmp_path / "bomb.tar.gz", [("big", "file", b"\0" * (4 << 20)), ("small", "file", "x")])
    assert bomb.stat().st_size < 100_000  # a small download, 4 MiB unpacked
    with pytest.raises(IntegrityError, match="the manifest says 10"):
        safe_extract(bomb, tmp_path / "a", sizes={"big": 10, "small": 1})
    with pytest.raises(IntegrityError, match="not in the release manifest"):
        safe_extract(bomb, tmp_path / "b", sizes={"small": 1})
    with pytest.raises(IntegrityError, match="past 1000000 bytes"):
        safe_extract(bomb, tmp_path / "c", max_total=1_000_000)
    assert not any((tmp_path / d).exists() for d in "abc")


def test_a_full_disk_is_a_full_disk_not_a_damaged_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tb = _tar(tmp_path / "t.tar.gz", [("f", "file", "x")])

    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extract", full)
    with pytest.raises(DiskFull) as exc:
        safe_extract(tb, tmp_path / "dest")
    assert "disk filled up" in exc.value.message and not isinstance(exc.value, IntegrityError)
    assert isinstance(exc.value.__cause__, OSError) and exc.value.__cause__.errno == errno.ENOSPC


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs docker")
def test_debian_bookworms_own_python_refuses_the_same_archives(tmp_path: Path) -> None:
    # Debian bookworm's python3 package: the base image has none, the 1.39 core image (bookworm) has it.
    image = next((i for i in ("mwrelease/base:bookworm", "mwrelease/core:1.39-debian")
                  if subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", i, "-V"],
                                    capture_output=True, timeout=120).returncode == 0), None)
    if image is None:
        pytest.skip("no bookworm image with python3 (ci/prepare-machine.sh builds mwrelease/core:1.39-debian)")
    tdir = tmp_path / "tarballs"
    tdir.mkdir()
    for name, members in ATTACKS.items():
        _tar(tdir / (name.replace(" ", "-") + ".tar.gz"), members)
    script = (
        "import glob, json, os, sys, tarfile; sys.path.insert(0, '/src')\n"
        "from mwrelease.fsutil import safe_extract, _HAS_FILTERS\n"
        "from mwrelease.errors import IntegrityError\n"
        "out = {'version': sys.version.split()[0], 'filters': _HAS_FILTERS, 'results': {}}\n"
        "for i, t in enumerate(sorted(glob.glob('/t/*.tar.gz'))):\n"
        "    base = f'/tmp/x{i}'; os.makedirs(base)\n"
        "    try:\n"
        "        safe_extract(t, os.path.join(base, 'dest')); r = 'extracted'\n"
        "    except IntegrityError: r = 'refused'\n"
        "    out['results'][os.path.basename(t)] = [r, sorted(os.listdir(base))]\n"
        "print(json.dumps(out))\n")
    r = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{REPO}:/src:ro", "-v", f"{tdir}:/t:ro",
                        "--entrypoint", "python3", image, "-c", script],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["version"] == "3.11.2" and out["filters"] is False
    assert len(out["results"]) == len(ATTACKS)
    assert all(v == ["refused", []] for v in out["results"].values()), out  # nothing beside dest, not even dest


def _manifest_json(tmp_path: Path) -> dict[str, object]:
    from mwrelease.release.build import build_release

    (full,) = build_release(make_lock("1.43.5"), make_core(tmp_path / "core", "1.43.5"), tmp_path / "out")
    data: dict[str, object] = json.loads(full.manifest.dumps())
    data.pop("tree_sha256")
    return data


@pytest.mark.parametrize("bad", ["/etc/cron.d/x", "../outside.php", "includes/../../x", "a//b", "./x", ""])
def test_a_manifest_naming_a_path_outside_the_tree_is_refused_when_read(tmp_path: Path, bad: str) -> None:
    data = _manifest_json(tmp_path)
    files = list(data["files"])  # type: ignore[call-overload]
    files.append({"path": bad, "sha256": "0" * 64, "size": 1, "mode": "0644"})
    with pytest.raises(IntegrityError, match="unsafe"):
        Manifest.from_json({**data, "files": files})
    delta = {**data, "kind": "delta", "delta": {"from": "1.43.4", "from_tree_sha256": "0" * 64, "changed": [bad],
                                                "removed": []}}
    with pytest.raises(IntegrityError, match="unsafe"):
        Manifest.from_json(delta)


def test_a_manifest_writing_through_its_own_symlink_is_refused(tmp_path: Path) -> None:
    data = _manifest_json(tmp_path)
    files = list(data["files"])  # type: ignore[call-overload]
    files += [{"path": "cfg", "link": "../../etc"}]
    with pytest.raises(IntegrityError, match="points outside"):
        Manifest.from_json({**data, "files": files})
    files[-1] = {"path": "cfg", "link": "includes"}
    files.append({"path": "cfg/evil.php", "sha256": "0" * 64, "size": 1, "mode": "0644"})
    with pytest.raises(IntegrityError, match="under the symlink"):
        Manifest.from_json({**data, "files": files})
