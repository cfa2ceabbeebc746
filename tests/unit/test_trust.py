"""Issue 9, repository / SIG side: keys, signed seals, K-of-N approval, a TUF channel (through the real CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from mwrelease.lock import Lock
from mwrelease.release.build import build_release
from mwrelease.runner.plan import lock_digest, plan
from mwrelease.runner.results import CellResult, CheckResult, Results, lock_summary
from mwrelease.trust import keys, layout, publish, root
from mwrelease.trust.dsse import sign_statement, write_envelope
from tests.unit.helpers import CITE, make_core, make_lock

PW = "correct horse"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # run_cli copies os.environ at call time, so the subprocesses see it too.
    monkeypatch.setenv(keys.PASSPHRASE_ENV, PW)
    monkeypatch.setenv("MWRELEASE_TRUST_DIR", str(tmp_path / "trust-store"))  # the admin's anchors (channel show)


def show_cli(run_cli: Run, channel: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`channel show` as an admin runs it: trust the channel's root v1 (once), then list it, verified."""
    r = run_cli("channel", "trust", str(channel), "--root", str(channel / "metadata/1.root.json"))
    assert r.returncode == 0, r.stderr
    return run_cli("channel", "show", str(channel), *extra)


@dataclass
class Keys:
    dir: Path

    def priv(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def pub(self, name: str) -> Path:
        return self.dir / f"{name}.pub"

    def signer(self, name: str) -> Any:
        return keys.load_signer(self.priv(name), PW)

    def public(self, name: str) -> Any:
        return keys.load_public(self.pub(name))


NAMES = ("chair1", "chair2", "alice", "bob", "carol", "dave", "online", "online2", "tester")


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    for n in NAMES:
        keys.generate_key(n, d, PW)
    return d


@pytest.fixture
def k(key_dir: Path) -> Keys:
    return Keys(key_dir)


def init_channel(k: Keys, ch: Path, threshold: int = 2) -> Path:
    spec = root.RootSpec(root_keys=(k.public("chair1"), k.public("chair2")), root_threshold=2,
                         members=(k.public("alice"), k.public("bob"), k.public("carol")), threshold=threshold,
                         online_key=k.public("online"), expiry=dict(layout.DEFAULT_EXPIRY))
    root.init(ch, spec, [k.signer("chair1"), k.signer("chair2")])
    return ch


def sealed_lock(version: str) -> Lock:
    return make_lock(version, (CITE,))


def write_seal(lock: Lock, path: Path, signer: Any, failed: bool = False, artifact: Path | None = None) -> Path:
    """A signed seal of ``lock``; with ``artifact``, sealed after `release build` (the tarball a subject too)."""
    import dataclasses

    from mwrelease.release.manifest import sha256_file
    from mwrelease.seal import seal

    cells = plan(lock)
    checks = [CheckResult(name="update.php", status="passed"), CheckResult(name="php-errors", status="passed"),
              CheckResult(name="siteinfo:Cite", status="passed", component="Cite")]
    if failed:
        checks.append(CheckResult(name="smoke:Cite:x", status="failed", component="Cite", blame=("Cite",),
                                  message="expected output missing"))
    results = Results(cells=tuple(CellResult.for_cell(c, checks) for c in cells), locks=(lock_summary(cells[0]),))
    (s,) = seal([results], lock_sha256=lock_digest(lock))
    if artifact is not None:
        s = dataclasses.replace(s, artifacts=((artifact.name, sha256_file(artifact)),))
    write_envelope(path, sign_statement(s.statement(), signer))
    return path


@pytest.fixture
def releases(tmp_path: Path) -> dict[str, Path]:
    """Two release directories of the 1.43 line (the second with a delta from the first)."""
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    (r1,) = build_release(sealed_lock("1.43.4"), make_core(tmp_path / "c1", "1.43.4"), out1)
    build_release(sealed_lock("1.43.5"), make_core(tmp_path / "c2", "1.43.5", extra={"new.php": "<?php\n"}), out2,
                  previous=r1.manifest_path)
    return {"1.43.4": out1, "1.43.5": out2}


@pytest.fixture
def channel(tmp_path: Path, k: Keys) -> Path:
    return init_channel(k, tmp_path / "channel")


def propose_cli(run_cli: Run, tmp_path: Path, k: Keys, channel: Path, release: Path, version: str,
                failed: bool = False, name: str = "") -> Path:
    seal = write_seal(sealed_lock(version), tmp_path / f"{version}.seal.dsse.json", k.signer("tester"), failed=failed,
                      artifact=release / f"mediawiki-{version}.tar.gz")
    out = tmp_path / (name or f"proposal-{version}")
    r = run_cli("release", "propose", str(release), "--channel", str(channel), "--seal", str(seal),
                "--seal-key", str(k.pub("tester")), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    return out


def approve(run_cli: Run, k: Keys, proposal: Path, *members: str, extra: tuple[str, ...] = ()) -> None:
    for m in members:
        r = run_cli("release", "approve", str(proposal), "--key", str(k.priv(m)), *extra)
        assert r.returncode == 0, r.stderr


def publish_cli(run_cli: Run, k: Keys, proposal: Path, channel: Path, online: str = "online") -> subprocess.CompletedProcess[str]:
    return run_cli("channel", "publish", str(proposal), "--channel", str(channel), "--online-key", str(k.priv(online)),
                   "--json")


def snapshot_of(channel: Path) -> dict[str, bytes]:
    return {str(p.relative_to(channel)): p.read_bytes() for p in channel.rglob("*")
            if p.is_file() and "proposals" not in p.parts}


# --- keys ------------------------------------------------------------------------------------------

def test_key_generate_and_show_through_the_cli(run_cli: Run, tmp_path: Path) -> None:
    r = run_cli("key", "generate", "erin", "--out-dir", str(tmp_path / "k"), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    priv, pub = tmp_path / "k/erin.key", tmp_path / "k/erin.pub"
    assert priv.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in priv.read_bytes()
    pubdata = json.loads(pub.read_text())
    assert pubdata["name"] == "erin" and pubdata["keyid"] == data["keyid"] and pubdata["keytype"] == "ed25519"
    shown = json.loads(run_cli("key", "show", str(pub), "--json").stdout)["data"]
    assert shown["keyid"] == data["keyid"] and shown["kind"] == "public"
    shown = json.loads(run_cli("key", "show", str(priv), "--json").stdout)["data"]
    assert shown["kind"] == "private" and shown["encrypted"] is True and shown["keyid"] == data["keyid"]
    again = run_cli("key", "generate", "erin", "-o", str(tmp_path / "k"))  # the old, hidden spelling
    assert again.returncode == 3 and "never overwritten" in again.stderr


def test_private_key_is_never_written_into_a_channel(run_cli: Run, channel: Path) -> None:
    r = run_cli("key", "generate", "mallory", "--out-dir", str(channel / "targets" / "keys"))
    assert r.returncode == 3 and "channel directory" in r.stderr
    assert not list(channel.rglob("mallory*"))


def test_key_errors_are_one_paragraph_with_exit_3(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "corrupt.pub"
    corrupt.write_text("{not json")
    edited = tmp_path / "edited.pub"
    data = json.loads(k.pub("alice").read_text())
    data["keyid"] = "0" * 64
    edited.write_text(json.dumps(data))
    cases = [
        (("key", "show", str(corrupt)), "not an mwrelease public key"),
        (("key", "show", str(edited)), "keyid does not match"),
        (("key", "show", str(tmp_path / "missing.pub")), "does not exist"),
        (("channel", "refresh", "--channel", str(channel), "--online-key", str(k.pub("online"))), "is a public key"),
        (("sig", "members", "add", "--channel", str(channel), str(k.priv("dave"))), "is a private key"),
    ]
    for args, needle in cases:
        r = run_cli(*args)
        assert r.returncode == 3, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "wrong")
    r = run_cli("channel", "refresh", "--channel", str(channel), "--online-key", str(k.priv("online")))
    assert r.returncode == 3 and "Wrong passphrase" in r.stderr


# --- SIG as TUF roles -------------------------------------------------------------------------------

def test_sig_init_needs_the_root_threshold_of_chairs(run_cli: Run, k: Keys, tmp_path: Path) -> None:
    ch = tmp_path / "ch"
    base = ["sig", "init", "--channel", str(ch), "--root-key", str(k.pub("chair1")), "--root-key", str(k.pub("chair2")),
            "--root-threshold", "2", "--member", str(k.pub("alice")), "--member", str(k.pub("bob")),
            "--threshold", "2", "--online-key", str(k.pub("online")), "--timestamp-expiry", "2h"]
    r = run_cli(*base, "--sign-root", str(k.priv("chair1")))
    assert r.returncode == 8 and "1 of 2" in r.stderr
    assert not (ch / "metadata" / "1.root.json").exists()
    r = run_cli(*base, "--sign-root", str(k.priv("alice")), "--sign-root", str(k.priv("chair1")))
    assert r.returncode == 3 and "not a root key" in r.stderr
    r = run_cli(*base, "--sign-root", str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    root = json.loads((ch / "metadata/1.root.json").read_text())
    assert root["signed"]["roles"]["targets"]["threshold"] == 2 and len(root["signatures"]) == 2
    assert root["signed"]["x-mwrelease-expiry"]["timestamp"] == 7200
    names = {v["x-mwrelease-name"] for v in root["signed"]["keys"].values()}
    assert names == {"chair1", "chair2", "alice", "bob", "online"}
    st = json.loads(run_cli("sig", "status", "--channel", str(ch), "--json").stdout)["data"]
    assert [m["name"] for m in st["members"]] == ["alice", "bob"] and st["threshold"] == 2
    assert st["root"]["threshold"] == 2 and st["targets"] is None
    r = run_cli(*base, "--sign-root", str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 3 and "already a signed channel" in r.stderr
    bad = run_cli("sig", "init", "--channel", str(tmp_path / "ch2"), "--root-key", str(k.pub("chair1")),
                  "--member", str(k.pub("alice")), "--threshold", "2", "--online-key", str(k.pub("online")),
                  "--sign-root", str(k.priv("chair1")))
    assert bad.returncode == 3 and "threshold 2 cannot be met with 1" in bad.stderr


def test_membership_changes_are_root_versions_signed_by_old_and_new_threshold(run_cli: Run, k: Keys,
                                                                              channel: Path) -> None:
    add = ["sig", "members", "add", "--channel", str(channel), str(k.pub("dave"))]
    r = run_cli(*add, "--sign-root", str(k.priv("chair1")))
    assert r.returncode == 8 and "1 of 2" in r.stderr and not (channel / "metadata/2.root.json").exists()
    r = run_cli(*add, "--sign-root", str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    root2 = json.loads((channel / "metadata/2.root.json").read_text())["signed"]
    assert k.public("dave").keyid in root2["roles"]["targets"]["keyids"]
    assert (channel / "metadata/root.json").read_bytes() == (channel / "metadata/2.root.json").read_bytes()
    # Rotating a chair out: chair2 leaves, chair3 (dave's key stands in) joins; the old root threshold
    # still has to sign, so chair2 signs its own removal.
    r = run_cli("sig", "chairs", "add", "--channel", str(channel), str(k.pub("carol")), "--sign-root",
                str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    r = run_cli("sig", "chairs", "remove", "--channel", str(channel), "chair2", "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("carol")))
    assert r.returncode == 0, r.stderr
    # The removed chair alone with one current chair cannot sign the next root (new threshold 2 of chair1, carol).
    r = run_cli("sig", "renew", "--channel", str(channel), "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 3 and "not a root key" in r.stderr
    # python-tuf's own check of the whole chain: every version is signed by its predecessor's threshold.
    from tuf.api.metadata import Metadata

    prev = None
    for v in range(1, 5):
        md = Metadata.from_bytes((channel / f"metadata/{v}.root.json").read_bytes())
        assert md.signed.get_root_verification_result(prev, md.signed_bytes, md.signatures).verified
        prev = md.signed
    r = run_cli("sig", "members", "remove", "--channel", str(channel), "nobody", "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("carol")))
    assert r.returncode == 3 and "names no current member" in r.stderr


# --- signed seals -----------------------------------------------------------------------------------

def test_seal_sign_verify_and_gate(run_cli: Run, k: Keys, tmp_path: Path) -> None:
    lock = sealed_lock("1.43.4")
    lock_path = tmp_path / "t.lock"
    lock.dump(lock_path)
    for failed in (False, True):
        cells = plan(lock)
        checks = [CheckResult(name="update.php", status="passed"), CheckResult(name="php-errors", status="passed"),
                  CheckResult(name="siteinfo:Cite", status="passed", component="Cite")]
        if failed:
            checks.append(CheckResult(name="smoke:Cite:x", status="failed", component="Cite", blame=("Cite",),
                                      message="boom"))
        res = tmp_path / f"results-{failed}.json"
        Results(cells=tuple(CellResult.for_cell(c, checks) for c in cells), locks=(lock_summary(cells[0]),)).dump(res)
        out = tmp_path / f"s-{failed}.seal.json"
        r = run_cli("seal", str(res), "--lock", str(lock_path), "-o", str(out), "--sign", str(k.priv("tester")))
        assert r.returncode == (7 if failed else 0), r.stderr
        env = tmp_path / f"s-{failed}.seal.dsse.json"
        envelope = json.loads(env.read_text())
        assert envelope["payloadType"] == "application/vnd.in-toto+json"
        v = run_cli("seal-verify", str(env), "--key", str(k.pub("tester")), "--lock", str(lock_path), "--json")
        assert v.returncode == 0, v.stderr
        statement = json.loads(v.stdout)["data"]["statement"]
        assert statement["subject"][0]["digest"]["sha256"] == lock_digest(lock)
        assert statement["predicate"]["verdict"] == ("failed" if failed else "sealed")
    wrong = run_cli("seal-verify", str(env), "--key", str(k.pub("alice")))
    assert wrong.returncode == 8 and "not signed by alice" in wrong.stderr
    # A signature over other bytes: the payload changed after signing.
    import base64

    envelope["payload"] = base64.b64encode(base64.b64decode(envelope["payload"]).replace(b"failed", b"sealed")).decode()
    env.write_text(json.dumps(envelope))
    assert run_cli("seal-verify", str(env), "--key", str(k.pub("tester"))).returncode == 8


# --- approval and publish ---------------------------------------------------------------------------

def test_propose_review_approve_publish_show(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                            releases: dict[str, Path]) -> None:
    p1 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    files = sorted(os.listdir(p1 / "files"))
    assert files == ["index.json", "mediawiki-1.43.4.cdx.json", "mediawiki-1.43.4.manifest.json",
                     "mediawiki-1.43.4.seal.dsse.json", "mediawiki-1.43.4.tar.gz"]
    sbom = json.loads((p1 / "files/mediawiki-1.43.4.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["metadata"]["component"]["version"] == "1.43.4"
    cite = next(c for c in sbom["components"] if c["name"] == "Cite")
    assert {"name": "mwrelease:ref", "value": "REL1_43"} in cite["properties"]
    staged = json.loads((p1 / "targets.json").read_text())
    assert staged["signatures"] == [] and staged["signed"]["version"] == 1
    custom = staged["signed"]["targets"]["mediawiki-1.43.4.tar.gz"]["custom"]["mwrelease"]
    assert custom["verdict"] == "sealed" and custom["lock_sha256"] == lock_digest(sealed_lock("1.43.4"))
    assert custom["seal_signer"] == "tester" and custom["line"] == "1.43"
    approve(run_cli, k, p1, "alice")
    r = publish_cli(run_cli, k, p1, channel)
    assert r.returncode == 8 and "1 of 2 required SIG approvals" in json.loads(r.stdout)["errors"][0]["message"]
    assert not (channel / "metadata/timestamp.json").exists()
    approve(run_cli, k, p1, "bob")
    r = publish_cli(run_cli, k, p1, channel)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(json.loads(r.stdout)["data"]["approved_by"]) == ["alice", "bob"]
    # the second release: review shows what changed since 1.43.4 and the cells of the seal
    p2 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.5"], "1.43.5")
    assert "mediawiki-1.43.5-from-1.43.4.delta.tar.gz" in os.listdir(p2 / "files")
    rv = run_cli("release", "review", str(p2), "--json")
    assert rv.returncode == 0, rv.stderr
    d = json.loads(rv.stdout)["data"]
    assert d["release"]["previous"] == "1.43.4" and d["release"]["verdict"] == "sealed"
    assert {"component": "core", "change": "updated", "from": "1.43.4", "to": "1.43.5"} in d["changes"]
    cite_row = next(c for c in d["components"] if c["name"] == "Cite")
    assert cite_row["ref"] == "REL1_43" and cite_row["verdict"] == "sealed" and cite_row["cells"]
    assert set(cite_row["cells"]) <= set(d["seal"]["cells"])
    text = run_cli("release", "review", str(p2)).stdout
    assert "core 1.43.4 -> 1.43.5" in text and "approvals: 0 of 2" in text
    # proposal.json is not signed: with --channel the changes come from the channel's signed metadata
    doc = json.loads((p2 / "proposal.json").read_text())
    doc["release"]["changes"] = []
    (p2 / "proposal.json").write_text(json.dumps(doc))
    assert json.loads(run_cli("release", "review", str(p2), "--json").stdout)["data"]["changes"] == []
    d2 = json.loads(run_cli("release", "review", str(p2), "--channel", str(channel), "--json").stdout)["data"]
    assert d2["changes"] == d["changes"] and d2["changes_from"].startswith("the channel")
    st = json.loads(run_cli("sig", "status", "--channel", str(channel), "--json").stdout)["data"]
    assert st["pending"] == [] and st["targets"]["version"] == 1  # p2 lives outside the channel's proposals/
    approve(run_cli, k, p2, "carol", "alice")
    assert publish_cli(run_cli, k, p2, channel).returncode == 0
    shown = json.loads(show_cli(run_cli, channel, "--json").stdout)["data"]["releases"]
    assert [(r["version"], r["verdict"], sorted(r["approved_by"])) for r in shown] == [
        ("1.43.4", "sealed", ["alice", "bob"]), ("1.43.5", "sealed", ["alice", "carol"])]
    # metadata order and content as the contract says; the client library accepts it
    names = set(os.listdir(channel / "metadata"))
    assert {"1.root.json", "root.json", "1.targets.json", "2.targets.json", "2.snapshot.json", "timestamp.json"} <= names
    client_refresh(channel, tmp_path / "client", "mediawiki-1.43.5.tar.gz")


def client_refresh(channel: Path, work: Path, target: str) -> Any:
    """python-tuf's ngclient over the channel directory (a minimal fetcher): the channel is real TUF."""
    import urllib.parse

    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient import Updater
    from tuf.ngclient.fetcher import FetcherInterface

    class Files(FetcherInterface):
        def _fetch(self, url: str) -> Iterator[bytes]:
            try:
                return iter([Path(urllib.parse.urlparse(url).path).read_bytes()])
            except FileNotFoundError:
                raise DownloadHTTPError("not found", 404) from None

    shutil.rmtree(work, ignore_errors=True)
    (work / "dl").mkdir(parents=True)
    u = Updater(str(work), f"file://{channel}/metadata/", target_dir=str(work / "dl"),
                target_base_url=f"file://{channel}/targets/", fetcher=Files(),
                bootstrap=(channel / "metadata/1.root.json").read_bytes())
    u.refresh()
    info = u.get_targetinfo(target)
    assert info is not None
    u.download_target(info)
    return info


def test_removed_member_signature_does_not_count(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                 releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    r = run_cli("sig", "members", "remove", "--channel", str(channel), "bob", "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    before = snapshot_of(channel)
    r = publish_cli(run_cli, k, p, channel)
    assert r.returncode == 8
    err = json.loads(r.stdout)["errors"][0]
    assert "1 of 2" in err["message"] and any("bob: not a current member" in d for d in err["details"])
    assert snapshot_of(channel) == before
    # and a removed member can no longer approve
    r = run_cli("release", "approve", str(p), "--key", str(k.priv("bob")), "--channel", str(channel))
    assert r.returncode == 3 and "not a current SIG member" in r.stderr
    approve(run_cli, k, p, "carol")
    assert publish_cli(run_cli, k, p, channel).returncode == 0


def test_signature_over_other_bytes_is_refused(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                               releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice")
    # bob signs different bytes (e.g. an earlier draft) and sends that signature along
    from tuf.api.metadata import Metadata

    md = Metadata.from_bytes((p / "targets.json").read_bytes())
    md.signed.version += 5
    sig = md.sign(k.signer("bob"))
    (p / "signatures" / f"{sig.keyid}.json").write_text(json.dumps(sig.to_dict()))
    r = publish_cli(run_cli, k, p, channel)
    assert r.returncode == 8 and "signature does not verify" in r.stdout
    assert not (channel / "metadata/timestamp.json").exists()
    # the staged targets changed after approval: both signatures stop verifying
    approve(run_cli, k, p, "bob")
    data = json.loads((p / "targets.json").read_text())
    data["signed"]["expires"] = "2099-01-01T00:00:00Z"
    (p / "targets.json").write_text(json.dumps(data))
    r = publish_cli(run_cli, k, p, channel)
    assert r.returncode == 8 and "0 of 2" in r.stdout


def test_online_key_alone_cannot_add_a_release(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                               releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    from tuf.api.metadata import Metadata

    md = Metadata.from_bytes((p / "targets.json").read_bytes())
    sig = md.sign(k.signer("online"))
    (p / "signatures" / f"{sig.keyid}.json").write_text(json.dumps(sig.to_dict()))
    r = run_cli("release", "approve", str(p), "--key", str(k.priv("online")))
    assert r.returncode == 3 and "not a current SIG member" in r.stderr
    r = publish_cli(run_cli, k, p, channel)
    assert r.returncode == 8 and "0 of 2" in r.stdout
    # nor can it re-sign a snapshot naming targets it wrote itself: the client refuses such targets
    (channel / "metadata/1.targets.json").write_bytes(md.to_bytes())
    publish._write_snapshot_and_timestamp(layout.Channel(channel), 1, None, k.signer("online"))
    from tuf.api.exceptions import UnsignedMetadataError

    with pytest.raises(UnsignedMetadataError):
        client_refresh(channel, tmp_path / "client", "mediawiki-1.43.4.tar.gz")


def test_stale_proposal_and_other_channel_are_refused(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                      releases: dict[str, Path]) -> None:
    p1 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    renewal = tmp_path / "renewal"
    r = run_cli("release", "propose", "--channel", str(channel), "--out-dir", str(renewal))
    assert r.returncode == 0, r.stderr
    approve(run_cli, k, renewal, "alice", "bob")
    assert publish_cli(run_cli, k, renewal, channel).returncode == 0
    approve(run_cli, k, p1, "alice", "bob")
    r = publish_cli(run_cli, k, p1, channel)
    assert r.returncode == 3 and "stale" in r.stdout
    other = init_channel(k, tmp_path / "other")
    r = publish_cli(run_cli, k, p1, other)
    assert r.returncode == 3 and "another channel" in r.stdout
    r = publish_cli(run_cli, k, renewal, channel)
    assert r.returncode == 3 and "stale" in r.stdout  # a published proposal is never published twice
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4", name="again")
    approve(run_cli, k, p, "alice", "bob")
    r = publish_cli(run_cli, k, p, channel, online="online2")
    assert r.returncode == 3 and "not the channel's online key" in r.stdout


def test_unsealed_release_needs_an_override(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                            releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4", failed=True)
    r = run_cli("release", "approve", str(p), "--key", str(k.priv("alice")))
    assert r.returncode == 7 and "not sealed (seal verdict: failed)" in r.stderr
    assert not list((p / "signatures").glob("*.json"))
    approve(run_cli, k, p, "alice", "bob", extra=("--override-seal", "Cite smoke test is flaky upstream (T1234)"))
    d = json.loads(run_cli("release", "review", str(p), "--json").stdout)["data"]
    assert d["approvals"]["count"] == 2
    assert {o["reason"] for o in d["approvals"]["overrides"]} == {"Cite smoke test is flaky upstream (T1234)"}
    assert next(c for c in d["components"] if c["name"] == "Cite")["verdict"] == "failed"
    assert publish_cli(run_cli, k, p, channel).returncode == 0
    shown = json.loads(show_cli(run_cli, channel, "--json").stdout)["data"]["releases"]
    assert shown[0]["verdict"] == "failed"
    assert {o["member"] for o in shown[0]["overrides"]} == {"alice", "bob"}
    assert "alice overrode the seal: Cite smoke test is flaky" in show_cli(run_cli, channel).stdout


def test_seal_of_another_lock_or_signer_is_refused(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                   releases: dict[str, Path]) -> None:
    seal = write_seal(sealed_lock("1.43.5"), tmp_path / "s.dsse.json", k.signer("tester"))
    r = run_cli("release", "propose", str(releases["1.43.4"]), "--channel", str(channel), "--seal", str(seal),
                "--seal-key", str(k.pub("tester")), "--out-dir", str(tmp_path / "p"))
    assert r.returncode == 8 and "is about bundle" in r.stderr
    seal = write_seal(sealed_lock("1.43.4"), tmp_path / "s2.dsse.json", k.signer("tester"))
    r = run_cli("release", "propose", str(releases["1.43.4"]), "--channel", str(channel), "--seal", str(seal),
                "--out-dir", str(tmp_path / "p2"))  # default seal signers: the members; tester is none
    assert r.returncode == 8 and "not signed by" in r.stderr


def test_tampered_proposal_file_and_corrupt_json(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                 releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    art = p / "files/mediawiki-1.43.4.tar.gz"
    good = art.read_bytes()
    art.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    r = publish_cli(run_cli, k, p, channel)
    assert r.returncode == 8 and "changed after it was made" in r.stdout
    art.write_bytes(good)
    (p / "proposal.json").write_text("{broken")
    r = run_cli("release", "review", str(p))
    assert r.returncode == 3 and "damaged" in r.stderr and "Traceback" not in r.stderr
    (channel / "metadata/1.root.json").write_text("{broken")  # damaged channel metadata
    r = run_cli("sig", "status", "--channel", str(channel))
    assert r.returncode == 8 and "damaged" in r.stderr


def test_expired_root_refuses_publish_and_refresh_resigns(run_cli: Run, k: Keys, tmp_path: Path,
                                                          releases: dict[str, Path]) -> None:
    ch = init_channel(k, tmp_path / "ch")
    p = propose_cli(run_cli, tmp_path, k, ch, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    assert publish_cli(run_cli, k, p, ch).returncode == 0
    ts1 = json.loads((ch / "metadata/timestamp.json").read_text())["signed"]
    r = run_cli("channel", "refresh", "--channel", str(ch), "--online-key", str(k.priv("online")), "--json")
    assert r.returncode == 0, r.stderr
    ts2 = json.loads((ch / "metadata/timestamp.json").read_text())["signed"]
    assert ts2["version"] == ts1["version"] + 1 and ts2["meta"]["snapshot.json"]["version"] == 2
    # an expired root: renew with a root that expired (forged clock via the library, signed by both chairs)
    from tuf.api.metadata import Metadata

    md = Metadata.from_bytes((ch / "metadata/1.root.json").read_bytes())
    md.signed.version = 2
    md.signed.expires = layout.now().replace(year=2001)
    md.signatures.clear()
    for c in ("chair1", "chair2"):
        md.sign(k.signer(c), append=True)
    (ch / "metadata/2.root.json").write_bytes(md.to_bytes())
    r = run_cli("channel", "refresh", "--channel", str(ch), "--online-key", str(k.priv("online")))
    assert r.returncode == 8 and "expired on 2001" in r.stderr
    r = run_cli("sig", "renew", "--channel", str(ch), "--sign-root", str(k.priv("chair1")), "--sign-root",
                str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    assert run_cli("channel", "refresh", "--channel", str(ch), "--online-key", str(k.priv("online"))).returncode == 0


def test_rotate_online_key(run_cli: Run, k: Keys, tmp_path: Path, channel: Path, releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    assert publish_cli(run_cli, k, p, channel).returncode == 0
    r = run_cli("sig", "rotate-online", "--channel", str(channel), str(k.pub("online2")), "--sign-root",
                str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0 and "channel refresh" in r.stderr
    assert run_cli("channel", "refresh", "--channel", str(channel), "--online-key", str(k.priv("online"))).returncode == 3
    assert run_cli("channel", "refresh", "--channel", str(channel), "--online-key", str(k.priv("online2"))).returncode == 0
    client_refresh(channel, tmp_path / "client", "mediawiki-1.43.4.tar.gz")


def test_legacy_publish_keeps_working_on_unsigned_channels_only(run_cli: Run, tmp_path: Path, channel: Path,
                                                                releases: dict[str, Path]) -> None:
    art = releases["1.43.4"] / "mediawiki-1.43.4.tar.gz"
    r = run_cli("channel", "publish", str(art), "--channel", str(tmp_path / "plain"))
    assert r.returncode == 0 and (tmp_path / "plain/index.json").is_file()
    r = run_cli("channel", "publish", str(art), "--channel", str(channel))
    assert r.returncode == 3 and "signed channel" in r.stderr
    assert not (channel / "index.json").exists()


def test_a_proposal_never_replaces_a_published_file(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,
                                                    releases: dict[str, Path]) -> None:
    p1 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p1, "alice", "bob")
    assert publish_cli(run_cli, k, p1, channel).returncode == 0
    p2 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.5"], "1.43.5")
    d = json.loads(run_cli("release", "review", str(p2), "--json").stdout)["data"]
    assert "mediawiki-1.43.5.tar.gz" in d["targets"]["added"] and d["targets"]["changed"] == ["index.json"]
    # a release manager swaps the published 1.43.4 artifact's hash in the staged targets; members sign it anyway
    from tuf.api.metadata import Metadata

    md = Metadata.from_bytes((p2 / "targets.json").read_bytes())
    md.signed.targets["mediawiki-1.43.4.tar.gz"].hashes = {"sha256": "0" * 64}
    (p2 / "targets.json").write_bytes(md.to_bytes())
    assert "WARNING" in run_cli("release", "review", str(p2)).stdout
    approve(run_cli, k, p2, "alice", "bob")
    r = publish_cli(run_cli, k, p2, channel)
    assert r.returncode == 8 and "never replaced" in r.stdout
