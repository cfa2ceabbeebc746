"""`release build --core-tarball URL --core-sha256 HEX`: core from an official (upstream-style) tarball.

The tarballs here are made like releases.wikimedia.org's (one top directory ``mediawiki-X.Y.Z/``) from a
small fake core and, when present, from the real Debian 1.43 tree. The only network address used is
127.0.0.1: a ``http.server`` on a free loopback port, and port 9 (discard; nothing listens) as unreachable.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from mwrelease.cli import cli
from mwrelease.mwtree import core_version_of
from mwrelease.release.manifest import Manifest
from tests.helpers import CORES
from tests.unit.helpers import make_core, make_lock

VERSION = "1.43.5"
PREFIX = f"mediawiki-{VERSION}"
ZERO = "0" * 64


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Downloads are cached under $XDG_CACHE_HOME; keep them in tmp_path. No proxy may see the loopback requests.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over http://127.0.0.1:<free port>/ for the test's duration."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def upstream_tarball(tree: Path, out: Path, prefix: str = PREFIX) -> str:
    """Pack ``tree`` as ``prefix/...`` the way upstream release tarballs are laid out; returns the sha256."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(tree, arcname=prefix)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_build(lock: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    r = CliRunner().invoke(cli, ["release", "build", str(lock), "--out-dir", str(out), "--json", *args])
    assert r.stdout, r.output
    return r.exit_code, json.loads(r.stdout)


def written(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def comparable(m: Manifest) -> dict[str, Any]:
    data = m.to_json()
    data.pop("core_source", None)
    return data


@pytest.fixture
def fake(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    """(lock, core tree, upstream-style tarball of that tree, its sha256)."""
    lock = tmp_path / "tarball-1.43.lock"
    make_lock(VERSION).dump(lock)
    core = make_core(tmp_path / "core", VERSION)
    tgz = tmp_path / "dl" / f"{PREFIX}.tar.gz"
    tgz.parent.mkdir()
    return lock, core, tgz, upstream_tarball(core, tgz)


def assert_same_release(lock: Path, core: Path, tmp_path: Path, source: str, sha: str, name: str) -> Manifest:
    """Build from --core-tree and from --core-tarball source: the same release, the tarball's origin recorded."""
    code, ref = run_build(lock, tmp_path / "from-tree", "--core-tree", str(core))
    assert code == 0, ref
    code, got = run_build(lock, tmp_path / name, "--core-tarball", source, "--core-sha256", sha)
    assert code == 0, got
    ref_art, got_art = ref["data"]["artifacts"][0], got["data"]["artifacts"][0]
    m_ref, m_got = Manifest.load(Path(ref_art["manifest"])), Manifest.load(Path(got_art["manifest"]))
    assert [f.path for f in m_got.files] == [f.path for f in m_ref.files]
    assert m_got.tree_sha256 == m_ref.tree_sha256
    assert comparable(m_got) == comparable(m_ref)
    # Files keep their mtimes through tarball -> unpack -> build, so even the artifact's bytes are the same.
    assert got_art["sha256"] == ref_art["sha256"]
    assert m_ref.core_source is None and "core_source" not in json.loads(Path(ref_art["manifest"]).read_text())
    assert m_got.core_source == {"type": "tarball", "url": source, "sha256": sha}
    assert json.loads(Path(got_art["manifest"]).read_text())["core_source"] == m_got.core_source
    return m_got


def test_local_path(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    lock, core, tgz, sha = fake
    m = assert_same_release(lock, core, tmp_path, str(tgz), sha, "from-path")
    assert "index.php" in {f.path for f in m.files} and m.core_version == VERSION
    assert not (tmp_path / "xdg-cache").exists()  # a local file is used where it is, not copied


def test_file_url_and_upper_case_digest(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    lock, core, tgz, sha = fake
    code, got = run_build(lock, tmp_path / "upper", "--core-tarball", tgz.as_uri(), "--core-sha256", sha.upper())
    assert code == 0, got
    assert Manifest.load(Path(got["data"]["artifacts"][0]["manifest"])).core_source == {
        "type": "tarball", "url": tgz.as_uri(), "sha256": sha}
    assert_same_release(lock, core, tmp_path, tgz.as_uri(), sha, "from-file-url")


def test_http_download_is_cached_by_sha256(fake: tuple[Path, Path, Path, str], tmp_path: Path,
                                           served: tuple[Path, str]) -> None:
    lock, core, tgz, sha = fake
    root, base = served
    (root / tgz.name).write_bytes(tgz.read_bytes())
    url = f"{base}/{tgz.name}"
    assert_same_release(lock, core, tmp_path, url, sha, "from-http")
    cached = tmp_path / "xdg-cache" / "mwrelease" / "tarballs" / sha
    assert cached.read_bytes() == tgz.read_bytes()
    # Gone from the server: the second build takes it from the cache.
    (root / tgz.name).unlink()
    code, again = run_build(lock, tmp_path / "again", "--core-tarball", url, "--core-sha256", sha)
    assert code == 0, again
    # A damaged cache entry is not trusted: it is fetched again, and here the server no longer has it.
    cached.write_bytes(b"damaged")
    code, env = run_build(lock, tmp_path / "damaged", "--core-tarball", url, "--core-sha256", sha)
    assert code == 4 and env["errors"][0]["kind"] == "source", env
    assert "404" in env["errors"][0]["message"]


@pytest.mark.parametrize("where", ["path", "http"])
def test_wrong_sha256_is_integrity_error_and_writes_nothing(fake: tuple[Path, Path, Path, str], tmp_path: Path,
                                                            served: tuple[Path, str], where: str) -> None:
    lock, _, tgz, sha = fake
    root, base = served
    (root / tgz.name).write_bytes(tgz.read_bytes())
    url = str(tgz) if where == "path" else f"{base}/{tgz.name}"
    out = tmp_path / "out"
    code, env = run_build(lock, out, "--core-tarball", url, "--core-sha256", ZERO)
    assert code == 8, env
    err = env["errors"][0]
    assert err["kind"] == "integrity"
    assert sha in err["message"] and ZERO in err["message"] and url in err["message"]
    assert written(out) == []
    cache = tmp_path / "xdg-cache" / "mwrelease" / "tarballs"
    assert (list(cache.iterdir()) if cache.exists() else []) == []  # neither the file nor a .part is kept


def test_options_are_checked(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    lock, core, tgz, sha = fake
    out = tmp_path / "out"
    code, env = run_build(lock, out, "--core-tarball", "http://127.0.0.1:9/mediawiki-1.43.5.tar.gz")
    assert code == 3 and env["errors"][0]["kind"] == "config"
    assert "--core-sha256" in env["errors"][0]["message"]
    for args, needle in ((["--core-sha256", sha], "without --core-tarball"),
                         (["--core-tarball", str(tgz), "--core-sha256", "abc"], "64 hexadecimal"),
                         (["--core-tarball", str(tgz), "--core-sha256", sha, "--core-tree", str(core)], "one place"),
                         ([], "No core"),
                         (["--core-tarball", "ftp://127.0.0.1/x.tar.gz", "--core-sha256", sha], "scheme")):
        code, env = run_build(lock, out, *args)
        assert code == 3 and needle in env["errors"][0]["message"], (args, env)
    assert written(out) == []


def _evil_tarball(path: Path, evil: tarfile.TarInfo) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("index.php", "<?php\n"), ("includes/Defines.php", f"<?php define( 'MW_VERSION', '{VERSION}' );\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"{PREFIX}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if evil.isfile():
            evil.size = 5
            tar.addfile(evil, io.BytesIO(b"evil\n"))
        else:
            tar.addfile(evil)
    return sha256_of(path.read_bytes())


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("evil", [
    _member(f"{PREFIX}/../../evil.php"),
    _member("/tmp/mwrelease-test-evil.php"),
    _member(f"{PREFIX}/includes/passwd", tarfile.SYMTYPE, "../../../../etc/passwd"),
    _member(f"{PREFIX}/dev-null", tarfile.CHRTYPE),
], ids=["dotdot", "absolute", "link-out", "device"])
def test_unsafe_member_is_integrity_error(tmp_path: Path, evil: tarfile.TarInfo) -> None:
    lock = tmp_path / "l.lock"
    make_lock(VERSION).dump(lock)
    tgz = tmp_path / "dl" / "evil.tar.gz"
    tgz.parent.mkdir()
    sha = _evil_tarball(tgz, evil)
    out = tmp_path / "a" / "b" / "out"
    code, env = run_build(lock, out, "--core-tarball", str(tgz), "--core-sha256", sha)
    assert code == 8 and env["errors"][0]["kind"] == "integrity", env
    assert evil.name in env["errors"][0]["message"]
    assert written(out) == []
    assert not list(tmp_path.rglob("evil.php")) and not Path("/tmp/mwrelease-test-evil.php").exists()


@pytest.mark.parametrize("layout", ["two-tops", "no-top", "no-index"])
def test_not_one_top_directory_with_index_php(tmp_path: Path, layout: str) -> None:
    lock = tmp_path / "l.lock"
    make_lock(VERSION).dump(lock)
    core = make_core(tmp_path / "core", VERSION)
    tgz = tmp_path / "t.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        if layout == "two-tops":
            tar.add(core, arcname=PREFIX)
            tar.add(core / "index.php", arcname="README")
        elif layout == "no-top":
            for p in sorted(core.iterdir()):
                tar.add(p, arcname=p.name)
        else:
            tar.add(core / "includes", arcname=f"{PREFIX}/includes")
    code, env = run_build(lock, tmp_path / "out", "--core-tarball", str(tgz), "--core-sha256",
                          sha256_of(tgz.read_bytes()))
    assert code == 3 and env["errors"][0]["kind"] == "config", env
    msg = env["errors"][0]["message"]
    assert ("no index.php" in msg) if layout == "no-index" else ("one top directory" in msg)
    assert written(tmp_path / "out") == []


def test_dot_slash_prefixed_members_are_accepted(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    # `tar -C dir -czf x.tar.gz .` writes "./" and "./mediawiki-X/..." members.
    lock, core, _, _ = fake
    tgz = tmp_path / "dotslash.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        root = tarfile.TarInfo("./")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(root)
        tar.add(core, arcname=f"./{PREFIX}")
    with tarfile.open(tgz) as tar:
        names = tar.getnames()
    assert names[0] in (".", "./") and names[1] == f"./{PREFIX}"
    assert_same_release(lock, core, tmp_path, str(tgz), sha256_of(tgz.read_bytes()), "from-dotslash")


def test_unreachable_url_is_source_error(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    lock, _, _, sha = fake
    out = tmp_path / "out"
    url = "http://127.0.0.1:9/mediawiki-1.43.5.tar.gz"
    code, env = run_build(lock, out, "--core-tarball", url, "--core-sha256", sha)
    assert code == 4 and env["errors"][0]["kind"] == "source", env
    assert url in env["errors"][0]["message"]
    assert written(out) == []


def test_missing_local_file_is_source_error(fake: tuple[Path, Path, Path, str], tmp_path: Path) -> None:
    lock, _, _, sha = fake
    code, env = run_build(lock, tmp_path / "out", "--core-tarball", str(tmp_path / "nope.tar.gz"), "--core-sha256", sha)
    assert code == 4 and env["errors"][0]["kind"] == "source", env


@pytest.mark.slow  # about a minute: two builds of 27,000 files
def test_real_debian_core_round_trip(tmp_path: Path) -> None:
    """The real 1.43 tree: its upstream-layout artifact, used as --core-tarball, gives the same release."""
    tree = CORES / "1.43"
    if not (tree / "includes" / "Defines.php").is_file():
        pytest.skip("core tree 1.43 missing: run ci/fetch-core-trees.sh")
    version = core_version_of(tree)
    lock = tmp_path / "l.lock"
    make_lock(version).dump(lock)
    t0 = time.monotonic()
    code, ref = run_build(lock, tmp_path / "from-tree", "--core-tree", str(tree))
    assert code == 0, ref
    art = ref["data"]["artifacts"][0]
    with tarfile.open(art["tarball"]) as tar:
        first = tar.next()
        assert first is not None and first.name == f"mediawiki-{version}"  # the upstream layout
    code, got = run_build(lock, tmp_path / "from-tarball", "--core-tarball", art["tarball"],
                          "--core-sha256", art["sha256"])
    assert code == 0, got
    m_ref = Manifest.load(Path(art["manifest"]))
    m_got = Manifest.load(Path(got["data"]["artifacts"][0]["manifest"]))
    assert len(m_got.files) > 5000 and m_got.tree_sha256 == m_ref.tree_sha256
    assert comparable(m_got) == comparable(m_ref)
    assert m_got.core_source == {"type": "tarball", "url": art["tarball"], "sha256": art["sha256"]}
    print(f"real 1.43 round trip: {len(m_got.files)} files in {time.monotonic() - t0:.1f} s", file=sys.stderr)
