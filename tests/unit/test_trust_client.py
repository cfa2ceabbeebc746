"""The admin side of a signed channel against the attacks of issue 9, each with the real client (TrustedChannel over
tuf.ngclient) reading a channel served by http.server on 127.0.0.1, or from a directory / file:// URL.

Every test asserts the refusal (TrustError, exit 8) and the sentence that names what failed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from mwrelease.errors import SourceError, TrustError
from mwrelease.trust.client import TrustedChannel, find_anchor, trust_channel
from tests.trust_channel import LoopbackServer, SignedChannel, one_release

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("trust_store")  # tests/unit/conftest.py


@pytest.fixture
def channel(tmp_path: Path) -> SignedChannel:
    return one_release(tmp_path / "channel")


@pytest.fixture
def server(channel: SignedChannel) -> Iterator[LoopbackServer]:
    with LoopbackServer(channel.dir) as s:
        yield s


def trusted(ch: SignedChannel, url: str) -> TrustedChannel:
    trust_channel(url, root_sha256=ch.root_sha256())
    return TrustedChannel(url)


def refusal(url: str, *, action: str = "index") -> str:
    tc = TrustedChannel(url)
    with pytest.raises(TrustError) as exc:
        if action == "index":
            tc.index()
        else:
            idx = tc.index()
            tc.download(idx.releases[-1].full(), Path(os.environ["MWRELEASE_TRUST_DIR"]).parent / "dl")
    assert exc.value.exit_code == 8
    return exc.value.message


# --- the good path, first contact ----------------------------------------------------------------------

def test_trusted_channel_reads_verified_index_manifest_artifact(channel: SignedChannel, server: LoopbackServer,
                                                                 tmp_path: Path, trust_store: Path) -> None:
    tc = trusted(channel, server.url)
    idx = tc.index()
    rel = idx.find("1.43.1")
    assert rel is not None
    assert tc.manifest(rel.manifest_file, rel.manifest_sha256).core_version == "1.43.1"
    path = tc.download(rel.full(), tmp_path / "dl")
    assert path.read_bytes() == channel.target_path(rel.full().file).read_bytes()
    assert tc.approvals().approved_by == ("alice", "bob") and tc.approvals().threshold == 2
    assert tc.release_fields(rel.full().file)["verdict"] == "sealed"
    # the anchor store is private to the user
    anchor = find_anchor(server.url)
    assert anchor is not None
    for p in [trust_store, *trust_store.rglob("*")]:
        if p.is_symlink():
            continue
        assert p.stat().st_mode & 0o077 == 0, p


def test_directory_and_file_url_go_through_the_same_client(channel: SignedChannel) -> None:
    for location in (str(channel.dir), channel.dir.as_uri()):
        tc = trusted(channel, location)
        assert [r.version for r in tc.index().releases] == ["1.43.1"]
    # and a directory channel is verified just the same
    channel.target_path("index.json").write_text("{}")
    assert "differs from the file the SIG signed" in refusal(str(channel.dir))


def test_no_trust_on_first_use(server: LoopbackServer) -> None:
    with pytest.raises(TrustError) as exc:
        TrustedChannel(server.url)
    assert exc.value.exit_code == 8
    assert f"`mwrelease channel trust {server.url} --root-sha256 HEX`" in exc.value.message


def test_wrong_root_digest_is_refused_and_nothing_stored(channel: SignedChannel, server: LoopbackServer,
                                                         trust_store: Path) -> None:
    with pytest.raises(TrustError, match="has sha256 .* not the 0{64} you were given"):
        trust_channel(server.url, root_sha256="0" * 64)
    assert find_anchor(server.url) is None


def test_root_file_anchor(channel: SignedChannel, server: LoopbackServer, tmp_path: Path) -> None:
    root = tmp_path / "given.root.json"
    shutil.copy(channel.dir / "metadata" / "1.root.json", root)
    trust_channel(server.url, root_file=root)
    assert TrustedChannel(server.url).index().find("1.43.1") is not None


# --- arbitrary software ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mediawiki-1.43.1.tar.gz", "mediawiki-1.43.1.manifest.json", "index.json"])
def test_file_changed_after_signing(channel: SignedChannel, server: LoopbackServer, name: str) -> None:
    trusted(channel, server.url)
    p = channel.target_path(name)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same length, other bytes
    p.write_bytes(bytes(data))
    tc = TrustedChannel(server.url)
    with pytest.raises(TrustError) as exc:
        rel = tc.index().releases[0]
        if name.endswith(".tar.gz"):
            tc.download(rel.full(), Path(os.environ["MWRELEASE_TRUST_DIR"]).parent / "dl")
        else:
            tc.manifest(rel.manifest_file, rel.manifest_sha256)
    assert f"{name} differs from the file the SIG signed" in exc.value.message
    assert not (Path(os.environ["MWRELEASE_TRUST_DIR"]).parent / "dl" / name).exists()


def test_index_naming_an_unsigned_artifact(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    tc = TrustedChannel(server.url)
    rel = tc.index().releases[0]
    from dataclasses import replace
    with pytest.raises(TrustError, match="does not list mediawiki-6.6.6.tar.gz: the SIG did not approve it"):
        tc.download(replace(rel.full(), file="mediawiki-6.6.6.tar.gz"), Path("/nonexistent"))


# --- endless data ----------------------------------------------------------------------------------------

def test_target_longer_than_signed(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    with open(channel.target_path("mediawiki-1.43.1.tar.gz"), "ab") as fh:
        fh.write(b"\0" * (4 << 20))
    msg = refusal(server.url, action="download")
    assert "mediawiki-1.43.1.tar.gz is longer than the 131072 bytes the SIG signed" in msg


@pytest.mark.parametrize("which", ["timestamp.json", "2.snapshot.json", "2.targets.json"])
def test_metadata_file_of_one_gigabyte(channel: SignedChannel, server: LoopbackServer, which: str) -> None:
    trusted(channel, server.url)
    channel.add_release("1.43.2")
    channel.publish()
    # A sparse 1 GB file: no disk, no memory on either side; the client must stop reading long before its end.
    with open(channel.dir / "metadata" / which, "wb") as fh:
        fh.truncate(1 << 30)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    msg = refusal(server.url)
    assert time.monotonic() - t0 < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100_000  # KiB: far below 1 GB
    assert f"{which} is longer than mwrelease accepts for it" in msg and "endless data" in msg


# --- rollback, freeze, mix-and-match ---------------------------------------------------------------------

def test_rollback_to_older_metadata_is_refused(channel: SignedChannel, server: LoopbackServer,
                                               tmp_path: Path) -> None:
    old = channel.save_state(tmp_path / "old-channel")
    channel.add_release("1.43.2")
    channel.publish()
    tc = trusted(channel, server.url)
    assert tc.index().find("1.43.2") is not None
    server.directory = old  # a stale mirror, or an attacker replaying what was once validly signed
    msg = refusal(server.url)
    assert "timestamp metadata version 1, older than version 2 this computer already verified" in msg
    assert "rollback attack" in msg


def test_rollback_of_targets_with_the_online_key(channel: SignedChannel, server: LoopbackServer) -> None:
    """The online key signs a fresh timestamp and snapshot that name the older targets version (release list)."""
    channel.add_release("1.43.2")
    channel.publish()
    trusted(channel, server.url).index()
    channel.snapshot.signed.version += 1
    channel.timestamp.signed.version += 1
    from tuf.api.metadata import MetaFile
    channel.snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    channel.write_snapshot()
    channel.write_timestamp()
    msg = refusal(server.url)
    assert "names targets metadata version 1, older than version 2 this computer already verified" in msg


def test_freeze_expired_timestamp(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    channel.timestamp.signed.version += 1
    channel.write_timestamp(expires=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    msg = refusal(server.url)
    assert "the channel's timestamp metadata expired on 2026-12-01 00:00 UTC: the channel is frozen or no longer " \
           "maintained" in msg


def test_freeze_clock_moved_forward(channel: SignedChannel, server: LoopbackServer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The same valid metadata, read two days later: the one-day timestamp has run out."""
    trusted(channel, server.url).index()
    import tuf.ngclient._internal.trusted_metadata_set as tms

    import types

    real = dt.datetime

    class Later:
        @staticmethod
        def now(tz: Any = None) -> Any:
            return real.now(tz) + dt.timedelta(days=2)

    # The client's reference time is datetime.datetime.now() in tuf's TrustedMetadataSet: move its clock only.
    monkeypatch.setattr(tms, "datetime", types.SimpleNamespace(datetime=Later, timezone=dt.timezone))
    msg = refusal(server.url)
    assert "the channel's timestamp metadata expired on" in msg and "frozen" in msg


def test_mix_and_match_snapshot_from_another_version(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    channel.add_release("1.43.2")
    channel.publish()
    meta = channel.dir / "metadata"
    shutil.copy(meta / "1.snapshot.json", meta / "2.snapshot.json")
    msg = refusal(server.url)
    assert "timestamp names snapshot version 2, but the channel served version 1" in msg
    assert "mix-and-match" in msg


# --- approvals ------------------------------------------------------------------------------------------

def test_fewer_than_k_approvals(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    channel.add_release("1.43.10")
    channel.publish(("alice",))
    assert "release 1.43.10 (targets metadata v2) has 1 of 2 required SIG approvals" in refusal(server.url)


def test_removed_member_signature_does_not_count(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    carol = channel.key("carol").keyid
    channel.rotate_root(signed_by=("chair",), change=lambda r: r.revoke_key(carol, "targets"))
    channel.add_release("1.43.2")
    channel.publish(("alice", "carol"))
    msg = refusal(server.url)
    assert "release 1.43.2 (targets metadata v2) has 1 of 2 required SIG approvals" in msg
    assert "signatures by carol, not current SIG members, do not count" in msg


def test_signature_over_other_bytes(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    old_bob = channel.targets.signatures[channel.key("bob").keyid]  # bob's signature of targets v1
    channel.add_release("1.43.2")
    channel.publish(("alice",), pasted={old_bob.keyid: old_bob})  # bob's v1 signature pasted onto v2
    assert (channel.dir / "metadata" / "2.targets.json").read_text().count('"sig"') == 2
    assert "release 1.43.2 (targets metadata v2) has 1 of 2 required SIG approvals" in refusal(server.url)


def test_online_key_alone_cannot_add_a_release(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    channel.add_release("1.43.2")
    channel.publish(("online",))
    msg = refusal(server.url)
    assert "release 1.43.2 (targets metadata v2) has 0 of 2 required SIG approvals" in msg
    assert "signatures by online, not current SIG members" in msg


def test_bad_timestamp_signature(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    channel.timestamp.signed.version += 1
    channel.write_timestamp(signer="alice")
    assert "timestamp metadata is not signed by the channel's online key" in refusal(server.url)


# --- root rotation ---------------------------------------------------------------------------------------

def test_root_rotation_is_followed_by_a_client_that_trusted_the_old_root(channel: SignedChannel,
                                                                         server: LoopbackServer) -> None:
    trusted(channel, server.url).index()
    # The chairs hand over: new root key and a new online key, each new root signed by old and new root keys.
    old_chair = channel.key("chair").keyid
    old_online = channel.key("online").keyid
    channel.new_signer("chair2")
    channel.new_signer("online2")

    def rotate(r: Any) -> None:
        r.add_key(channel.key("chair2"), "root")
        r.revoke_key(old_chair, "root")

    channel.rotate_root(signed_by=("chair", "chair2"), change=rotate)

    def new_online(r: Any) -> None:
        for role in ("snapshot", "timestamp"):
            r.add_key(channel.key("online2"), role)
            r.revoke_key(old_online, role)

    channel.rotate_root(signed_by=("chair2",), change=new_online)
    channel.add_release("1.43.2")
    channel.targets.signed.version += 1
    channel.snapshot.signed.version += 1
    channel.timestamp.signed.version += 1
    (channel.dir / "metadata" / "2.targets.json").write_bytes(channel.sign_targets("alice", "bob"))
    from tuf.api.metadata import MetaFile
    channel.snapshot.signed.meta["targets.json"] = MetaFile(version=2)
    channel.write_snapshot(signer="online2")
    channel.write_timestamp(signer="online2")
    tc = TrustedChannel(server.url)
    assert tc.index().find("1.43.2") is not None
    assert tc.summary()["root_version"] == 3 and tc.summary()["root_keys"] == ["chair2"]


def test_compromised_old_root_key_after_rotation(channel: SignedChannel, server: LoopbackServer) -> None:
    old_chair = channel.key("chair").keyid
    channel.new_signer("chair2")

    def rotate(r: Any) -> None:
        r.add_key(channel.key("chair2"), "root")
        r.revoke_key(old_chair, "root")

    channel.rotate_root(signed_by=("chair", "chair2"), change=rotate)
    trusted(channel, server.url).index()  # the client anchored at v1 and walked to v2
    # The retired chair key leaks: the thief makes root v3 with their own member keys, signed by it alone.
    channel.new_signer("mallory")

    def takeover(r: Any) -> None:
        r.add_key(channel.key("chair"), "root")
        r.revoke_key(channel.key("chair2").keyid, "root")
        r.add_key(channel.key("mallory"), "targets")
        r.roles["targets"].threshold = 1

    channel.rotate_root(signed_by=("chair",), change=takeover)
    msg = refusal(server.url)
    assert "new root metadata version 3 has 0 of 1 required signatures of the SIG's current root keys" in msg
    # A client that only ever trusted v1 walks v2 (valid) and refuses v3 just the same.
    shutil.rmtree(os.environ["MWRELEASE_TRUST_DIR"])
    with pytest.raises(TrustError, match="new root metadata version 3 has 0 of 1 required signatures"):
        trust_channel(server.url, root_sha256=channel.root_sha256())


# --- malformed -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"{not json", b"[]", json.dumps({"signed": {"_type": "timestamp"},
                                                                        "signatures": []}).encode()])
def test_malformed_metadata(channel: SignedChannel, server: LoopbackServer, content: bytes) -> None:
    trusted(channel, server.url)
    (channel.dir / "metadata" / "timestamp.json").write_bytes(content)
    assert "the channel's timestamp.json is malformed metadata" in refusal(server.url)


def test_metadata_of_the_wrong_type(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    shutil.copy(channel.dir / "metadata" / "1.snapshot.json", channel.dir / "metadata" / "timestamp.json")
    assert "is malformed metadata (Expected 'timestamp', got 'snapshot')" in refusal(server.url)


def test_unsigned_legacy_channel(channel: SignedChannel, server: LoopbackServer) -> None:
    trusted(channel, server.url)
    os.unlink(channel.dir / "metadata" / "timestamp.json")
    msg = refusal(server.url)
    assert "has no signed metadata (metadata/timestamp.json" in msg and "not a signed channel" in msg


def test_unreachable_channel_is_a_source_error(channel: SignedChannel, tmp_path: Path) -> None:
    with LoopbackServer(channel.dir) as s:
        url = s.url
        trusted(channel, url)
    with pytest.raises(SourceError, match=f"Channel {url} cannot be read"):  # exit 4, not a trust failure
        TrustedChannel(url).index()


# --- the command line --------------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ), timeout=120)


def test_cli_channel_trust_then_refusal_exit_8(channel: SignedChannel, server: LoopbackServer) -> None:
    r = _cli("channel", "trust", server.url, "--root-sha256", channel.root_sha256())
    assert r.returncode == 0, r.stderr
    assert "SIG members: alice, bob, carol; 2 approvals per release" in r.stdout
    assert "approved by alice, bob" in r.stdout
    channel.add_release("1.43.2")
    channel.publish(("bob",))
    r = _cli("channel", "trust", server.url, "--root-sha256", channel.root_sha256())
    assert r.returncode == 8
    assert "release 1.43.2 (targets metadata v2) has 1 of 2 required SIG approvals" in r.stderr
    assert "Traceback" not in r.stderr
