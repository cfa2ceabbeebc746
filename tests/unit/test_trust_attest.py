"""Issue 9, the last SIG-side pieces: a signed seal that names the release artifact (sealed again after `release
build`), and root changes signed by each chair on their own machine (signature files gathered by publish-root),
accepted by a client that trusted the old root. Real keys, real python-tuf and securesystemslib, the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, TargetFile

from mwrelease.errors import TrustError
from mwrelease.lock import lock_digest
from mwrelease.release.build import build_release
from mwrelease.release.manifest import sha256_file
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult, CheckResult, Results, lock_summary
from mwrelease.trust import repo
from mwrelease.trust.client import TrustedChannel, trust_channel
from tests.unit.helpers import make_core
from tests.unit.test_trust import (Keys, Run, approve, init_channel, k, key_dir, passphrase,  # noqa: F401 (fixtures)
                                   propose_cli, releases, sealed_lock, write_seal)


@pytest.fixture
def channel(tmp_path: Path, k: Keys) -> Path:  # noqa: F811 (this module's channel: the SIG's, not the stand-in)
    return init_channel(k, tmp_path / "channel")


def results_file(tmp_path: Path, version: str) -> tuple[Path, Path]:
    """(lock file, passing results of its cells), as `mwrelease test` writes them."""
    lock = sealed_lock(version)
    lock_path = tmp_path / f"{version}.lock"
    lock.dump(lock_path)
    cells = plan(lock)
    checks = [CheckResult(name="update.php", status="passed"), CheckResult(name="php-errors", status="passed"),
              CheckResult(name="siteinfo:Cite", status="passed", component="Cite")]
    res = tmp_path / f"results-{version}.json"
    Results(cells=tuple(CellResult.for_cell(c, checks) for c in cells), locks=(lock_summary(cells[0]),)).dump(res)
    return lock_path, res


# --- the artifact's digest in the signed seal ---------------------------------------------------------

def test_seal_after_build_names_the_artifact_and_propose_checks_it(run_cli: Run, k: Keys, tmp_path: Path,
                                                                   channel: Path, releases: dict[str, Path]) -> None:
    lock_path, res = results_file(tmp_path, "1.43.4")
    art = releases["1.43.4"] / "mediawiki-1.43.4.tar.gz"
    out = tmp_path / "s.seal.json"
    r = run_cli("seal", str(res), "--lock", str(lock_path), "-o", str(out), "--sign", str(k.priv("tester")),
                "--artifact", str(art))
    assert r.returncode == 0, r.stderr
    env = tmp_path / "s.seal.dsse.json"
    v = run_cli("seal-verify", str(env), "--key", str(k.pub("tester")), "--lock", str(lock_path), "--json")
    assert v.returncode == 0, v.stderr
    subjects = json.loads(v.stdout)["data"]["statement"]["subject"]
    assert subjects == [{"name": "1.43.4.lock", "digest": {"sha256": lock_digest(sealed_lock("1.43.4"))}},
                        {"name": art.name, "digest": {"sha256": sha256_file(art)}}]
    r = run_cli("release", "propose", str(releases["1.43.4"]), "--channel", str(channel), "--seal", str(env),
                "--seal-key", str(k.pub("tester")), "--lock", str(lock_path), "--out-dir", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    # An artifact of another version is not attested as built from this lock.
    other = releases["1.43.5"] / "mediawiki-1.43.5.tar.gz"
    r = run_cli("seal", str(res), "--lock", str(lock_path), "-o", str(tmp_path / "x.seal.json"), "--artifact", str(other))
    assert r.returncode == 3 and "not from 1.43.4.lock" in r.stderr


def test_propose_refuses_a_seal_of_another_artifact_or_of_the_lock_only(run_cli: Run, k: Keys, tmp_path: Path,
                                                                         channel: Path, releases: dict[str, Path]) -> None:
    good = releases["1.43.4"] / "mediawiki-1.43.4.tar.gz"
    # The same lock built again with one more file: the tarball the seal names is not this one.
    (rebuilt,) = build_release(sealed_lock("1.43.4"), make_core(tmp_path / "c", "1.43.4", extra={"x.php": "<?php\n"}),
                               tmp_path / "rebuilt")
    for seal, want in ((write_seal(sealed_lock("1.43.4"), tmp_path / "a.dsse.json", k.signer("tester"), artifact=good),
                        "is not the one the seal"),
                       (write_seal(sealed_lock("1.43.4"), tmp_path / "l.dsse.json", k.signer("tester")),
                        "names only the lock")):
        r = run_cli("release", "propose", str(tmp_path / "rebuilt"), "--channel", str(channel), "--seal", str(seal),
                    "--seal-key", str(k.pub("tester")), "--out-dir", str(tmp_path / f"p-{seal.stem}"), "--json")
        assert r.returncode == 8, r.stdout + r.stderr
        err = json.loads(r.stdout)["errors"][0]
        assert err["kind"] == "trust" and want in err["message"] and rebuilt.tarball.name in err["message"]
        assert not (tmp_path / f"p-{seal.stem}").exists()


def test_review_and_approve_refuse_a_staged_seal_of_another_artifact(run_cli: Run, k: Keys, tmp_path: Path,
                                                                     channel: Path, releases: dict[str, Path]) -> None:
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    assert run_cli("release", "review", str(p)).returncode == 0
    # Someone swaps the staged seal for one of another tarball and re-hashes the (unsigned) staged targets.
    seal_name = "mediawiki-1.43.4.seal.dsse.json"
    write_seal(sealed_lock("1.43.4"), p / "files" / seal_name, k.signer("tester"),
               artifact=releases["1.43.5"] / "mediawiki-1.43.5.tar.gz")
    md = Metadata.from_bytes((p / "targets.json").read_bytes())
    md.signed.targets[seal_name] = TargetFile.from_file(seal_name, str(p / "files" / seal_name), ["sha256"])
    (p / "targets.json").write_bytes(md.to_bytes())
    r = run_cli("release", "review", str(p))
    assert r.returncode == 8 and "mediawiki-1.43.4.tar.gz" in r.stderr and "is not the one the seal" in r.stderr
    r = run_cli("release", "approve", str(p), "--key", str(k.priv("alice")))
    assert r.returncode == 8 and "is not the one the seal" in r.stderr
    assert not list((p / "signatures").glob("*.json"))


# --- root changes signed on separate machines ---------------------------------------------------------

def published_channel(k: Keys, channel: Path, releases: dict[str, Path], tmp_path: Path) -> Path:
    why = "test: unsealed"
    prop = repo.propose(channel, releases["1.43.4"], out_dir=tmp_path / "prop", override_reason=why)
    for m in ("alice", "bob"):
        repo.approve(prop, k.signer(m), override_reason=why)
    repo.publish(prop, channel, k.signer("online"))
    return channel


def test_root_change_signed_by_two_chairs_on_their_own_machines(run_cli: Run, k: Keys, tmp_path: Path,
                                                                channel: Path, releases: dict[str, Path]) -> None:
    published_channel(k, channel, releases, tmp_path)
    store = tmp_path / "admin-trust"
    trust_channel(str(channel), root_file=channel / "metadata/1.root.json", store=store)  # trusts root v1
    rm = tmp_path / "release-manager"
    rm.mkdir()
    staged = rm / "root-v2.json"
    r = run_cli("sig", "members", "add", "--channel", str(channel), str(k.pub("dave")), "--threshold", "3",
                "--stage", str(staged))
    assert r.returncode == 0, r.stderr
    assert "staged root version 2" in r.stdout and not (channel / "metadata/2.root.json").exists()
    assert json.loads(staged.read_text())["signatures"] == []
    sig_files = []
    for chair in ("chair1", "chair2"):  # each on a machine of their own: a copy of the staged file in, one file out
        machine = tmp_path / f"machine-{chair}"
        machine.mkdir()
        shutil.copy(staged, machine / staged.name)
        r = run_cli("sig", "sign-root", str(machine / staged.name), "--key", str(k.priv(chair)))
        assert r.returncode == 0, r.stderr
        assert "members (3 to approve a release): alice, bob, carol, dave" in r.stdout
        (sig,) = machine.glob("root-v2.*.sig.json")
        assert set(json.loads(sig.read_text())) == {"keyid", "sig"}  # one TUF signature: small enough to mail
        sig_files.append(shutil.copy(sig, rm / sig.name))
    # One chair's signature is below the root threshold (2): refused, nothing written.
    r = run_cli("sig", "publish-root", str(staged), sig_files[0], "--channel", str(channel))
    assert r.returncode == 8, r.stdout + r.stderr
    assert ("Root version 2 is not signed by enough chairs: the current root (v1) has 1 of 2; the new root has 1 of 2 "
            "chair signatures. Nothing was written.") in r.stderr
    assert not (channel / "metadata/2.root.json").exists()
    # Both signature files, gathered from beside the staged file: root v2 is written.
    r = run_cli("sig", "publish-root", str(staged), "--channel", str(channel), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(r.stdout)["data"]
    assert d["root_version"] == 2
    assert any("now has 2 of 3 signatures" in w for w in d["warnings"])  # K is 3 now
    # The admin who trusted root v1 walks to v2 through python-tuf (its chain check), and sees dave.
    root2 = Metadata.from_bytes((channel / "metadata/2.root.json").read_bytes())
    assert len(root2.signatures) == 2
    tc = TrustedChannel(str(channel), store=store)
    with pytest.raises(TrustError, match=r"\(targets metadata v1\) has 2 of 3 required SIG approvals"):
        tc.refresh()  # the published targets has 2 approvals, the new root wants 3
    prop = repo.propose(channel, None, out_dir=tmp_path / "renew")
    for m in ("alice", "bob", "dave"):
        repo.approve(prop, k.signer(m))
    repo.publish(prop, channel, k.signer("online"))
    summary = TrustedChannel(str(channel), store=store).summary()
    assert summary["root_version"] == 2 and "dave" in summary["members"] and summary["approval_threshold"] == 3
    # The same staged file again: the channel moved on.
    r = run_cli("sig", "publish-root", str(staged), "--channel", str(channel))
    assert r.returncode == 3 and "stale" in r.stderr


def test_publish_root_names_signatures_that_do_not_count(run_cli: Run, k: Keys, tmp_path: Path, channel: Path) -> None:
    staged = tmp_path / "root-v2.json"
    other = tmp_path / "other.json"
    assert run_cli("sig", "members", "remove", "--channel", str(channel), "carol", "--stage", str(staged)).returncode == 0
    assert run_cli("sig", "renew", "--channel", str(channel), "--stage", str(other)).returncode == 0
    assert run_cli("sig", "sign-root", str(staged), "--key", str(k.priv("chair1"))).returncode == 0
    # chair2 signed the other staged root; alice is no chair (a warning when signing, not counted when gathering)
    assert run_cli("sig", "sign-root", str(other), "--key", str(k.priv("chair2")), "-o",
                   str(tmp_path / "root-v2.chair2.sig.json")).returncode == 0
    r = run_cli("sig", "sign-root", str(staged), "--key", str(k.priv("alice")))
    assert r.returncode == 0 and "not a chair of the staged root" in r.stderr
    r = run_cli("sig", "publish-root", str(staged), "--channel", str(channel), "--json")
    assert r.returncode == 8
    err = json.loads(r.stdout)["errors"][0]
    assert "the current root (v1) has 1 of 2" in err["message"]
    details = "\n".join(err.get("details", []))
    assert "chair2: signature does not verify" in details and "not a chair of the current or the staged root" in details
    assert not (channel / "metadata/2.root.json").exists()
    r = run_cli("sig", "members", "remove", "--channel", str(channel), "carol", "--stage", str(staged))
    assert r.returncode == 3 and "already exists" in r.stderr
