"""A channel made by the SIG side (sig init, release propose, 2 of 3 approve, channel publish) read by the admin
side: `channel trust`, then index, manifests and artifacts through TUF; `upgrade` and `status` on a stand-in wiki
from it, and refused (exit 8, wiki untouched) when it is tampered with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from mwrelease.errors import TrustError
from mwrelease.lock import Lock
from mwrelease.release.build import build_release
from mwrelease.trust.client import TrustedChannel, approval_note, open_channel, trust_channel
from tests.trust_channel import LoopbackServer, SigChannel

FAKEMW = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade" / "fakemw"
REPO = Path(__file__).resolve().parents[2]


def fake_core(dest: Path, version: str) -> Path:
    shutil.copytree(FAKEMW, dest)
    (dest / "includes" / "Defines.php").write_text(f"<?php\ndefine( 'MW_VERSION', '{version}' );\n")
    (dest / "composer.json").write_text(json.dumps({"require": {"php": ">=7.4"}}))
    for name in ("Cite", "ParserFunctions"):
        (dest / "extensions" / name).mkdir(parents=True)
        (dest / "extensions" / name / "extension.json").write_text(json.dumps({"name": name, "version": version}))
    (dest / "includes" / f"Only{version.replace('.', '')}.php").write_text("<?php\n")
    return dest


def lock(version: str) -> Lock:
    line = version.rsplit(".", 1)[0]
    return Lock(bundle=f"fake-{line}", flavor="tarball", core_version=version, core_line=line, php=(),
                databases=("sqlite",), components=())


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rel")
    out = {}
    for v in ("1.39.1", "1.43.1"):
        (full,) = build_release(lock(v), fake_core(base / f"core-{v}", v), base / f"out-{v}")
        out[v] = full.tarball
    return out


@pytest.fixture
def signed(tmp_path: Path, releases: dict[str, Path]) -> SigChannel:
    ch = SigChannel(tmp_path / "channel")
    ch.release(releases["1.39.1"])
    ch.release(releases["1.43.1"], approvers=("bob", "carol"))
    return ch


@pytest.fixture(autouse=True)
def trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "trust-store"
    monkeypatch.setenv("MWRELEASE_TRUST_DIR", str(store))
    return store


@pytest.fixture
def served(signed: SigChannel) -> Iterator[str]:
    with LoopbackServer(signed.dir) as s:
        yield s.url


def test_sig_made_channel_read_through_tuf(signed: SigChannel, served: str, tmp_path: Path) -> None:
    trust_channel(served, root_sha256=signed.root_sha256())
    tc = TrustedChannel(served)
    idx = tc.index()
    assert [r.version for r in idx.releases] == ["1.39.1", "1.43.1"]
    rel = idx.find("1.43.1")
    assert rel is not None
    assert tc.manifest(rel.manifest_file, rel.manifest_sha256).core_version == "1.43.1"
    got = tc.download(rel.full(), tmp_path / "dl")
    assert got.read_bytes() == signed.target_file(rel.full().file).read_bytes()
    note = approval_note(tc, "1.43.1", rel.full().file)
    # the current release list (targets v2) was signed by bob and carol
    assert note["approved_by"] == ["bob", "carol"] and note["threshold"] == 2
    assert "approved by bob, carol (2 of 3 SIG members, 2 required; targets metadata v2)" in note["text"]
    assert "seal overridden: test channel" in note["text"]


def test_open_channel_refuses_untrusted_and_unsigned(signed: SigChannel, tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="`mwrelease channel trust"):
        open_channel(str(signed.dir))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(TrustError, match="is not signed .* refuses it") as exc:
        open_channel(str(plain))
    assert "--allow-unsigned" in (exc.value.hint or "")
    warnings: list[str] = []
    reader = open_channel(str(plain), allow_unsigned=True, warn=warnings.append)
    assert not isinstance(reader, TrustedChannel) and "WITHOUT signature verification" in warnings[0]
    # a channel the admin trusts is never read unverified, even with --allow-unsigned
    trust_channel(str(signed.dir), root_sha256=signed.root_sha256())
    assert isinstance(open_channel(str(signed.dir), allow_unsigned=True, warn=warnings.append), TrustedChannel)


def test_tampered_sig_made_channel_is_refused(signed: SigChannel, served: str, tmp_path: Path) -> None:
    trust_channel(served, root_sha256=signed.root_sha256())
    art = signed.target_file("mediawiki-1.43.1.tar.gz")
    data = bytearray(art.read_bytes())
    data[len(data) // 2] ^= 0x01
    art.write_bytes(bytes(data))
    tc = TrustedChannel(served)
    rel = tc.index().find("1.43.1")
    assert rel is not None
    with pytest.raises(TrustError, match="mediawiki-1.43.1.tar.gz differs from the file the SIG signed"):
        tc.download(rel.full(), tmp_path / "dl")
    assert not (tmp_path / "dl" / "mediawiki-1.43.1.tar.gz").exists()
