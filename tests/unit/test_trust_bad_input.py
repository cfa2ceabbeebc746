"""Issue 9, "Bad input" on the SIG side: an expired role at publish time (the channel's root, the staged
targets), a publish interrupted midway (Ctrl-C, a full disk, a killed process) and `sig status` listing the
pending proposals. Each refusal is one paragraph with its exit code and leaves the channel's bytes as they were;
an interrupted publish never leaves a snapshot naming a targets version that is not there, a python-tuf client
(TrustedChannel over tuf.ngclient.Updater, served from the directory) refreshes to the previous state or the new
one, and publishing again then succeeds."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.unit.test_trust import (Keys, Run, approve, channel, k, key_dir, passphrase,  # noqa: F401 (fixtures)
                                   propose_cli, publish_cli, releases, snapshot_of, write_seal, sealed_lock)

UTC = dt.timezone.utc


# --- helpers -----------------------------------------------------------------------------------------------

def sig_init_cli(run_cli: Run, k: Keys, ch: Path, *expiry: str) -> Path:
    """`sig init` as the chairs run it: 2 of 2 chairs, members alice, bob, carol (K = 2), online key."""
    r = run_cli("sig", "init", "--channel", str(ch), "--root-key", str(k.pub("chair1")), "--root-key",
                str(k.pub("chair2")), "--root-threshold", "2", "--member", str(k.pub("alice")), "--member",
                str(k.pub("bob")), "--member", str(k.pub("carol")), "--threshold", "2", "--online-key",
                str(k.pub("online")), "--sign-root", str(k.priv("chair1")), "--sign-root", str(k.priv("chair2")),
                *expiry)
    assert r.returncode == 0, r.stderr
    return ch


def expires(md_file: Path) -> dt.datetime:
    text = json.loads(md_file.read_text())["signed"]["expires"]
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def wait_until_expired(md_file: Path) -> dt.datetime:
    """Real time, no clock trick: the metadata was made with an expiry of a second or two."""
    when = expires(md_file)
    assert when - dt.datetime.now(UTC) < dt.timedelta(seconds=30), when
    while dt.datetime.now(UTC) < when + dt.timedelta(seconds=1):
        time.sleep(0.1)
    return when


def day(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def json_error(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in r.stdout + r.stderr
    errors = json.loads(r.stdout)["errors"]
    assert len(errors) == 1
    err: dict[str, Any] = errors[0]
    assert "\n" not in err["message"] and err["message"].strip() == err["message"], err
    return err


def one_paragraph(stderr: str) -> str:
    """The text-mode refusal: `error: MESSAGE` and its hint, one paragraph (no blank line, no traceback)."""
    text = stderr.strip()
    assert text.startswith("error: ") and "Traceback" not in text and "\n\n" not in text, stderr
    assert len(text.splitlines()) <= 2, stderr  # the message, then the hint
    return text


def proposal_files(p: Path) -> dict[str, bytes]:
    return {str(f.relative_to(p)): f.read_bytes() for f in p.rglob("*") if f.is_file()}


def assert_no_dangling_metadata(ch: Path) -> None:
    """What a client can be served is whole: timestamp -> snapshot -> targets -> target files all exist; and no
    snapshot file on disk (even one no timestamp names yet) names a targets version that is not there."""
    meta = ch / "metadata"
    for snap in meta.glob("*.snapshot.json"):
        tv = json.loads(snap.read_text())["signed"]["meta"]["targets.json"]["version"]
        assert (meta / f"{tv}.targets.json").is_file(), f"{snap.name} names targets version {tv}, which is missing"
    if not (meta / "timestamp.json").is_file():
        return
    sv = json.loads((meta / "timestamp.json").read_text())["signed"]["meta"]["snapshot.json"]["version"]
    assert (meta / f"{sv}.snapshot.json").is_file(), f"timestamp.json names snapshot {sv}, which is missing"
    tv = json.loads((meta / f"{sv}.snapshot.json").read_text())["signed"]["meta"]["targets.json"]["version"]
    targets = json.loads((meta / f"{tv}.targets.json").read_text())["signed"]["targets"]
    for name, tf in targets.items():
        assert (ch / "targets" / f"{tf['hashes']['sha256']}.{name}").is_file(), name


# --- an expired role at publish time -------------------------------------------------------------------------

def test_publish_refuses_when_the_channels_root_expired(run_cli: Run, k: Keys, tmp_path: Path,
                                                        releases: dict[str, Path]) -> None:  # noqa: F811
    """The chairs let the root expire (here: a root that lives 1 second): every client refuses such a channel,
    so publishing into it is refused, nothing changes, and after `sig renew` the same proposal publishes."""
    ch = sig_init_cli(run_cli, k, tmp_path / "ch", "--root-expiry", "1s")
    p = propose_cli(run_cli, tmp_path, k, ch, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    when = wait_until_expired(ch / "metadata/1.root.json")
    before, staged = snapshot_of(ch), proposal_files(p)
    r = publish_cli(run_cli, k, p, ch)
    assert r.returncode == 8, r.stdout + r.stderr
    err = json_error(r)
    assert f"The channel's root (version 1) expired on {day(when)}" in err["message"]
    assert "nothing is published" in err["message"] and "sig renew" in err["hint"]
    r = run_cli("channel", "publish", str(p), "--channel", str(ch), "--online-key", str(k.priv("online")))
    assert r.returncode == 8 and f"root (version 1) expired on {day(when)}" in one_paragraph(r.stderr)
    assert snapshot_of(ch) == before and proposal_files(p) == staged
    assert not (ch / "metadata/timestamp.json").exists() and not (p / "published.json").exists()
    st = json.loads(run_cli("sig", "status", "--channel", str(ch), "--json").stdout)["data"]
    assert st["root"]["expired"] is True and st["root"]["version"] == 1
    # renewed by both chairs (with a sane expiry from now on): the same approvals still count
    r = run_cli("sig", "renew", "--channel", str(ch), "--root-expiry", "1y", "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    r = publish_cli(run_cli, k, p, ch)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["data"]["targets_version"] == 1
    assert_no_dangling_metadata(ch)


def test_publish_refuses_staged_targets_that_expired(run_cli: Run, k: Keys, tmp_path: Path,
                                                     releases: dict[str, Path]) -> None:  # noqa: F811
    """K members signed staged targets that expired before the release manager published them: a client would
    refuse those targets, so publish refuses (exit 3, like a stale proposal: propose it again)."""
    ch = sig_init_cli(run_cli, k, tmp_path / "ch", "--targets-expiry", "1s")
    p = propose_cli(run_cli, tmp_path, k, ch, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice", "bob")
    when = wait_until_expired(p / "targets.json")
    before, staged = snapshot_of(ch), proposal_files(p)
    r = publish_cli(run_cli, k, p, ch)
    assert r.returncode == 3, r.stdout + r.stderr
    err = json_error(r)
    assert f"The staged targets expired on {day(when)}" in err["message"] and "Propose" in err["hint"]
    r = run_cli("channel", "publish", str(p), "--channel", str(ch), "--online-key", str(k.priv("online")))
    assert r.returncode == 3 and f"staged targets expired on {day(when)}" in one_paragraph(r.stderr)
    assert snapshot_of(ch) == before and proposal_files(p) == staged
    assert not (ch / "metadata/timestamp.json").exists() and not (p / "published.json").exists()
    # the hint works: a fresh proposal (after the chairs set a sane targets expiry) publishes
    r = run_cli("sig", "renew", "--channel", str(ch), "--targets-expiry", "1y", "--sign-root", str(k.priv("chair1")),
                "--sign-root", str(k.priv("chair2")))
    assert r.returncode == 0, r.stderr
    again = propose_cli(run_cli, tmp_path, k, ch, releases["1.43.4"], "1.43.4", name="again")
    approve(run_cli, k, again, "alice", "bob")
    r = publish_cli(run_cli, k, again, ch)
    assert r.returncode == 0, r.stdout + r.stderr


# --- a publish interrupted midway ---------------------------------------------------------------------------

@pytest.fixture
def half_published(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,  # noqa: F811
                   releases: dict[str, Path]) -> tuple[Path, Path]:
    """A channel serving 1.43.4 (targets v1) and an approved proposal of 1.43.5 (targets v2) for it."""
    p1 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p1, "alice", "bob")
    assert publish_cli(run_cli, k, p1, channel).returncode == 0
    p2 = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.5"], "1.43.5")
    approve(run_cli, k, p2, "alice", "bob")
    return channel, p2


def fresh_copy(channel: Path, proposal: Path, work: Path) -> tuple[Path, Path, Path]:
    """A copy of the channel and the proposal, and an admin's trust store that trusted the channel at v1."""
    from mwrelease.trust.client import trust_channel

    ch, p, store = work / "channel", work / "proposal", work / "store"
    shutil.copytree(channel, ch)
    shutil.copytree(proposal, p)
    trust_channel(str(ch), root_file=ch / "metadata/1.root.json", store=store)
    return ch, p, store


def client_view(ch: Path, store: Path, work: Path) -> tuple[int, list[str]]:
    """What an admin's python-tuf client sees now: (targets version, releases), every target it lists downloaded
    and verified. Raises if the client refuses the channel."""
    from tuf.api.metadata import Metadata

    from mwrelease.trust.client import TrustedChannel

    tc = TrustedChannel(str(ch), store=store)
    tc.refresh()
    assert tc.anchor is not None
    targets: Any = Metadata.from_bytes((tc.anchor.metadata_dir / "targets.json").read_bytes())
    for name in targets.signed.targets:
        assert tc.read_bytes(name)
    idx = tc.index()
    dl = work / "downloads"
    for r in idx.releases:
        tc.download(r.full(), dl)
    return tc.approvals().targets_version, [r.version for r in idx.releases]


def publish_args(k: Keys, p: Path, ch: Path) -> list[str]:
    return ["channel", "publish", str(p), "--channel", str(ch), "--online-key", str(k.priv("online"))]


def publish_in_process(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    """The console entry point (`mwrelease.cli.main`) in this process, so a test can break what it calls."""
    from mwrelease.cli import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def check_after_interruption(ch: Path, p: Path, store: Path, work: Path, before: dict[str, bytes]) -> bool:
    """The channel as the interrupted publish left it. Returns whether the new release is already live."""
    assert_no_dangling_metadata(ch)
    version, listed = client_view(ch, store, work)
    assert (version, listed) in ((1, ["1.43.4"]), (2, ["1.43.4", "1.43.5"])), (version, listed)
    assert {n: b for n, b in snapshot_of(ch).items() if n in before} == before or version == 2
    if version == 1:  # nothing a client is served changed
        for name in ("metadata/timestamp.json", "metadata/1.snapshot.json", "metadata/1.targets.json"):
            assert (ch / name).read_bytes() == before[name]
    return version == 2


def check_published(ch: Path, p: Path, store: Path, work: Path) -> None:
    assert_no_dangling_metadata(ch)
    assert client_view(ch, store, work) == (2, ["1.43.4", "1.43.5"])
    # the members' signed approval notes went public with the release, none lost to the interruption
    notes = sorted(f.name for f in (ch / "approvals/2").iterdir())
    assert len(notes) == 2 and all(n.endswith(".approval.json") for n in notes), notes


@pytest.mark.parametrize("how", ["ctrl-c", "disk-full"])
def test_an_interrupted_publish_leaves_a_consistent_channel_and_can_be_run_again(
        how: str, k: Keys, tmp_path: Path, half_published: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Interrupt `channel publish` at every file it writes into the channel, in turn: after a Ctrl-C right after
    that file was written, or a full disk when writing it. A client then refreshes to targets v1 (or, past the
    timestamp, to v2), never to a snapshot naming a missing targets version, and publishing again succeeds."""
    from mwrelease.trust import layout, publish

    channel, proposal = half_published
    real = layout.write_atomic  # what publish.py calls (imported by name there, so patched there)
    written: list[str] = []
    interrupted_at: list[str] = []
    point = 0
    while True:
        point += 1
        work = tmp_path / f"{how}-{point}"
        ch, p, store = fresh_copy(channel, proposal, work)
        assert client_view(ch, store, work) == (1, ["1.43.4"])
        before = snapshot_of(ch)
        calls = [0]

        def broken(path: Path, data: bytes, calls: list[int] = calls, point: int = point) -> None:
            calls[0] += 1
            if calls[0] == point:
                interrupted_at.append(path.name)
                if how == "disk-full":  # write_atomic's own part file is removed when a write fails
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
                real(path, data)
                raise KeyboardInterrupt
            real(path, data)
            if point == 1:
                written.append(path.name)

        monkeypatch.setattr(publish, "write_atomic", broken)
        code, err = publish_in_process(capsys, publish_args(k, p, ch))
        monkeypatch.setattr(publish, "write_atomic", real)
        if calls[0] < point:  # the publish wrote fewer files than this point: every point was tried
            assert code == 0, err
            break
        assert "Traceback" not in err, err
        if how == "ctrl-c":
            assert code == 130, err
        else:
            assert code == 13, err
            text = one_paragraph(err)
            assert "disk filled up" in text and "channel publish" in text and "No space left on device" in text
        live = check_after_interruption(ch, p, store, work, before)
        code, err = publish_in_process(capsys, publish_args(k, p, ch))
        if live:
            # the timestamp naming the new release was written before the interruption: it is published; a
            # second publish of it is refused (exit 3) without touching anything
            assert interrupted_at[-1] == "timestamp.json" and how == "ctrl-c", interrupted_at
            assert code == 3 and "stale" in err, err
        else:
            assert code == 0, err
        check_published(ch, p, store, work)
        assert not list(ch.rglob("*.part")), list(ch.rglob("*.part"))
    # every file the publish writes was an interruption point; the metadata last, timestamp.json the very last
    assert point == len(interrupted_at) + 1 >= 10, interrupted_at
    assert interrupted_at[-3:] == ["2.targets.json", "2.snapshot.json", "timestamp.json"], interrupted_at


KILLER = """
import os, signal, sys
import mwrelease.trust.publish as publish

real, after = publish.write_atomic, os.environ["KILL_AFTER_WRITING"]

def write_atomic(path, data):
    real(path, data)
    if path.name.endswith(after):
        os.kill(os.getpid(), signal.SIGKILL)

publish.write_atomic = write_atomic
from mwrelease.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("after", [".tar.gz", "2.targets.json", "2.snapshot.json"])
def test_a_killed_publish_leaves_a_consistent_channel_and_can_be_run_again(
        after: str, k: Keys, tmp_path: Path, half_published: tuple[Path, Path]) -> None:
    """The real entry point in its own process, killed (SIGKILL: no cleanup, no except clause runs) right after
    it wrote a target file, the new targets, the new snapshot. The channel lock dies with it."""
    channel, proposal = half_published
    ch, p, store = fresh_copy(channel, proposal, tmp_path / "w")
    before = snapshot_of(ch)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "KILL_AFTER_WRITING": after}
    r = subprocess.run([sys.executable, "-c", KILLER, *publish_args(k, p, ch)], capture_output=True, text=True,
                       cwd=REPO, env=env, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
    assert any(n.endswith(after) for n in set(snapshot_of(ch)) - set(before))
    assert not check_after_interruption(ch, p, store, tmp_path / "w", before)
    env.pop("KILL_AFTER_WRITING")
    r = subprocess.run([sys.executable, "-m", "mwrelease", *publish_args(k, p, ch)], capture_output=True, text=True,
                       cwd=REPO, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    check_published(ch, p, store, tmp_path / "w")


# --- sig status: members, thresholds, expiries, pending proposals -----------------------------------------

def test_sig_status_lists_pending_proposals(run_cli: Run, k: Keys, tmp_path: Path, channel: Path,  # noqa: F811
                                            releases: dict[str, Path]) -> None:
    """Proposals staged in the channel's proposals/ (where `release propose` puts them by default) are pending
    until published: with their approvals so far, and STALE once the channel moved on."""
    def propose_default(version: str) -> Path:
        seal = write_seal(sealed_lock(version), tmp_path / f"{version}.seal.dsse.json", k.signer("tester"),
                          artifact=releases[version] / f"mediawiki-{version}.tar.gz")
        r = run_cli("release", "propose", str(releases[version]), "--channel", str(channel), "--seal", str(seal),
                    "--seal-key", str(k.pub("tester")), "--json")
        assert r.returncode == 0, r.stderr
        out = Path(json.loads(r.stdout)["data"]["proposal"])
        assert out.parent == channel / "proposals", out
        return out

    def status() -> dict[str, Any]:
        r = run_cli("sig", "status", "--channel", str(channel), "--json")
        assert r.returncode == 0, r.stderr
        data: dict[str, Any] = json.loads(r.stdout)["data"]
        return data

    def pending(st: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(Path(x["proposal"]).name, x["release"], x["approvals"], x["threshold"], sorted(x["approved_by"]),
                 x["stale"]) for x in st["pending"]]

    assert status()["pending"] == []
    p1 = propose_default("1.43.4")
    st = status()
    assert pending(st) == [(p1.name, "1.43.4", 0, 2, [], False)]
    assert [m["name"] for m in st["members"]] == ["alice", "bob", "carol"] and st["threshold"] == 2
    assert st["root"]["threshold"] == 2 and sorted(c["name"] for c in st["root"]["chairs"]) == ["chair1", "chair2"]
    assert st["root"]["expires"] and st["root"]["expired"] is False and st["timestamp"] is None
    approve(run_cli, k, p1, "alice")
    assert pending(status()) == [(p1.name, "1.43.4", 1, 2, ["alice"], False)]
    text = run_cli("sig", "status", "--channel", str(channel))
    assert text.returncode == 0 and f"pending 1.43.4: 1 of 2 approvals (alice)  {p1}" in text.stdout
    # a damaged proposal is listed with what is wrong, and does not hide the others
    broken = channel / "proposals" / "broken"
    broken.mkdir()
    (broken / "proposal.json").write_text("{broken")
    st = status()
    assert pending({"pending": [x for x in st["pending"] if "error" not in x]}) == [
        (p1.name, "1.43.4", 1, 2, ["alice"], False)]
    assert [(x["proposal"], "damaged" in x["error"]) for x in st["pending"] if "error" in x] == [(str(broken), True)]
    shutil.rmtree(broken)
    approve(run_cli, k, p1, "bob")
    assert publish_cli(run_cli, k, p1, channel).returncode == 0
    p2 = propose_default("1.43.5")
    renewal = tmp_path / "renewal"  # staged outside the channel: not listed
    assert run_cli("release", "propose", "--channel", str(channel), "--out-dir", str(renewal)).returncode == 0
    st = status()
    assert pending(st) == [(p2.name, "1.43.5", 0, 2, [], False)]  # the published one is no longer pending
    assert st["targets"]["version"] == 1 and st["timestamp"]["expired"] is False and st["snapshot"]["expires"]
    approve(run_cli, k, renewal, "alice", "carol")
    assert publish_cli(run_cli, k, renewal, channel).returncode == 0
    assert pending(status()) == [(p2.name, "1.43.5", 0, 2, [], True)]  # the channel moved on: stale
    assert "STALE" in run_cli("sig", "status", "--channel", str(channel)).stdout
