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
from mwrelease.release.build import build_release
from mwrelease.trust.client import TrustedChannel, approval_note, open_channel, trust_channel
from tests.trust_channel import LoopbackServer, SigChannel
from tests.unit.helpers import fake_core, fake_lock, installed_wiki

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rel")
    out = {}
    for v in ("1.39.1", "1.43.1"):
        (full,) = build_release(fake_lock(v), fake_core(base / f"core-{v}", v), base / f"out-{v}")
        out[v] = full.tarball
    return out


@pytest.fixture
def signed(tmp_path: Path, releases: dict[str, Path]) -> SigChannel:
    ch = SigChannel(tmp_path / "channel")
    ch.release(releases["1.39.1"])
    ch.release(releases["1.43.1"], approvers=("bob", "carol"))
    return ch


pytestmark = pytest.mark.usefixtures("trust_store")  # tests/unit/conftest.py


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


# --- `mwrelease upgrade` and `status` on a stand-in wiki from the signed channel --------------------------------

needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


def stand_in_wiki(www: Path, tarball: Path, version: str) -> Path:
    """The stand-in wiki of the upgrade tests, unpacked from the release tarball of ``version``."""
    return installed_wiki(www, tarball.parent, version, ("Main Page",))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ), timeout=300)


def untouched(wiki: Path) -> bool:
    from mwrelease.upgrade.inspect import inspect_wiki

    return (inspect_wiki(wiki).core_version == "1.39.1" and (wiki / "includes" / "Only1391.php").exists()
            and not [p for p in wiki.parent.iterdir() if "mwrelease-new" in p.name])


@needs_php
def test_upgrade_and_status_from_the_signed_channel(signed: SigChannel, served: str, releases: dict[str, Path],
                                                     tmp_path: Path) -> None:
    wiki = stand_in_wiki(tmp_path / "www", releases["1.39.1"], "1.39.1")
    up = ("upgrade", "--wiki", str(wiki), "--channel", served, "--line", "1.43", "--no-http-check")
    r = cli(*up, "--dry-run", "--json")
    assert r.returncode == 8 and "is not trusted on this computer yet" in r.stdout
    assert cli("channel", "trust", served, "--root-sha256", signed.root_sha256()).returncode == 0
    r = cli(*up, "--dry-run", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    plan = json.loads(r.stdout)["data"]["plan"]
    assert plan["approvals"] == ["1.43.1: approved by bob, carol (2 of 3 SIG members, 2 required; targets metadata "
                                 "v2); seal verdict unsealed (seal overridden: test channel: the release was not "
                                 "sealed)"]
    r = cli(*up, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "release 1.43.1: approved by bob, carol" in r.stderr  # the plan, as the admin saw it
    from mwrelease.upgrade.inspect import inspect_wiki
    assert inspect_wiki(wiki).core_version == "1.43.1"
    st = json.loads(cli("status", "--wiki", str(wiki), "--channel", served, "--json").stdout)
    assert st["data"]["channel"]["signed"] is True and st["data"]["channel"]["update_available"] is False


@needs_php
@pytest.mark.parametrize("attack", ["tampered-artifact", "expired-timestamp", "one-approval"])
def test_upgrade_from_an_attacked_signed_channel_is_refused(signed: SigChannel, served: str,
                                                            releases: dict[str, Path], tmp_path: Path,
                                                            attack: str) -> None:
    wiki = stand_in_wiki(tmp_path / "www", releases["1.39.1"], "1.39.1")
    assert cli("channel", "trust", served, "--root-sha256", signed.root_sha256()).returncode == 0
    if attack == "tampered-artifact":
        art = signed.target_file("mediawiki-1.43.1.tar.gz")
        data = bytearray(art.read_bytes())
        data[len(data) // 3] ^= 0x20
        art.write_bytes(bytes(data))
        sentence = "mediawiki-1.43.1.tar.gz differs from the file the SIG signed"
    elif attack == "expired-timestamp":
        import datetime as dt

        from tuf.api.metadata import Metadata
        ts_path = signed.dir / "metadata" / "timestamp.json"
        ts = Metadata.from_bytes(ts_path.read_bytes())
        ts.signed.version += 1
        ts.signed.expires = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
        ts.signatures.clear()
        ts.sign(signed.online)
        ts_path.write_bytes(ts.to_bytes())
        sentence = "timestamp metadata expired on 2026-12-01 00:00 UTC: the channel is frozen"
    else:
        # a third release that only one member approved, pushed by whoever holds the online key
        from tuf.api.metadata import Metadata, MetaFile
        meta = signed.dir / "metadata"
        t = Metadata.from_bytes((meta / "2.targets.json").read_bytes())
        t.signed.version = 3
        fields = dict(t.signed.targets["mediawiki-1.43.1.tar.gz"].unrecognized_fields["custom"]["mwrelease"])
        t.signed.targets["mediawiki-1.43.1.tar.gz"].unrecognized_fields["custom"]["mwrelease"] = \
            {**fields, "version": "1.43.66"}
        t.signatures.clear()
        t.sign(signed.members["alice"])
        (meta / "3.targets.json").write_bytes(t.to_bytes())
        snap = Metadata.from_bytes((meta / "2.snapshot.json").read_bytes())
        snap.signed.version = 3
        snap.signed.meta["targets.json"] = MetaFile(version=3)
        snap.signatures.clear()
        snap.sign(signed.online)
        (meta / "3.snapshot.json").write_bytes(snap.to_bytes())
        ts = Metadata.from_bytes((meta / "timestamp.json").read_bytes())
        ts.signed.version += 1
        ts.signed.snapshot_meta = MetaFile(version=3)
        ts.signatures.clear()
        ts.sign(signed.online)
        (meta / "timestamp.json").write_bytes(ts.to_bytes())
        sentence = "release 1.43.66 (targets metadata v3) has 1 of 2 required SIG approvals"
    r = cli("upgrade", "--wiki", str(wiki), "--channel", served, "--line", "1.43", "--no-http-check", "--yes")
    assert r.returncode == 8, r.stdout + r.stderr
    assert sentence in r.stderr and "Traceback" not in r.stderr
    assert untouched(wiki)


@needs_php
def test_allow_unsigned_reads_an_old_channel_with_a_loud_warning(releases: dict[str, Path], tmp_path: Path) -> None:
    from mwrelease.release.channel import publish

    plain = tmp_path / "plain"
    for v in ("1.39.1", "1.43.1"):
        publish(releases[v], plain)
    wiki = stand_in_wiki(tmp_path / "www", releases["1.39.1"], "1.39.1")
    args = ("upgrade", "--wiki", str(wiki), "--channel", str(plain), "--line", "1.43", "--no-http-check", "--dry-run")
    r = cli(*args)
    assert r.returncode == 8 and "is not signed" in r.stderr and "--allow-unsigned" in r.stderr
    r = cli(*args, "--allow-unsigned")
    assert r.returncode == 0, r.stderr
    assert "WITHOUT signature verification" in r.stderr
    assert "UNSIGNED channel, nobody's approval was verified" in r.stderr + r.stdout
