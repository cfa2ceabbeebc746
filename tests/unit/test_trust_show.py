"""Issue 9: `channel show` lists releases, verdicts and approvers from metadata python-tuf verified against the
trusted root (the anchor `upgrade` uses), for a channel directory and for one served over http on 127.0.0.1.
The channel is made by the SIG side's own functions with real keys; the CLI runs in a subprocess."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from mwrelease.trust import repo
from tests.trust_channel import LoopbackServer
from tests.unit.test_trust import (Keys, Run, init_channel, k, key_dir, passphrase,  # noqa: F401 (fixtures)
                                   releases, sealed_lock, write_seal)

WHY = "Cite smoke test is flaky upstream (T1234)"


@pytest.fixture
def channel(tmp_path: Path, k: Keys, releases: dict[str, Path]) -> Path:  # noqa: F811
    """1.43.4 sealed, approved by alice and bob; 1.43.5 failed, approved by alice and carol overriding the seal."""
    ch = init_channel(k, tmp_path / "channel")
    for version, approvers, failed in (("1.43.4", ("alice", "bob"), False), ("1.43.5", ("alice", "carol"), True)):
        art = releases[version] / f"mediawiki-{version}.tar.gz"
        seal = write_seal(sealed_lock(version), tmp_path / f"{version}.seal.dsse.json", k.signer("tester"),
                          failed=failed, artifact=art)
        prop = repo.propose(ch, releases[version], out_dir=tmp_path / f"prop-{version}", seal=seal,
                            seal_keys=[k.public("tester")])
        for m in approvers:
            repo.approve(prop, k.signer(m), override_reason=WHY if failed else None)
        repo.publish(prop, ch, k.signer("online"))
    return ch


def shown(run_cli: Run, location: str) -> dict[str, object]:
    r = run_cli("channel", "show", location, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data: dict[str, object] = json.loads(r.stdout)["data"]
    return data


def rows(data: dict[str, object]) -> list[tuple[object, ...]]:
    return [(r["version"], r["verdict"], r["approved_by"], r["targets_version"]) for r in data["releases"]]  # type: ignore[attr-defined]


EXPECTED = [("1.43.4", "sealed", ["alice", "bob"], 1), ("1.43.5", "failed", ["alice", "carol"], 2)]


def refused(run_cli: Run, location: str) -> str:
    r = run_cli("channel", "show", location, "--json")
    assert r.returncode == 8, r.stdout + r.stderr
    err = json.loads(r.stdout)["errors"][0]
    assert err["kind"] == "trust"
    return str(err["message"])


def test_show_of_a_channel_directory_needs_the_anchor_and_lists_what_verified(run_cli: Run, channel: Path) -> None:
    msg = refused(run_cli, str(channel))
    assert "is not trusted on this computer yet" in msg and f"mwrelease channel trust {channel} --root-sha256" in msg
    r = run_cli("channel", "trust", str(channel), "--root", str(channel / "metadata/1.root.json"))
    assert r.returncode == 0, r.stderr
    data = shown(run_cli, str(channel))
    assert data["verified"] is True and rows(data) == EXPECTED
    (r43_4, r43_5) = data["releases"]  # type: ignore[misc]
    assert r43_4["overrides"] == [] and {o["member"] for o in r43_5["overrides"]} == {"alice", "carol"}
    text = run_cli("channel", "show", str(channel)).stdout
    assert "verified against the trusted root" in text and "carol overrode the seal: " + WHY in text


def test_show_over_http_verifies_history_and_refuses_tampering(run_cli: Run, channel: Path) -> None:
    with LoopbackServer(channel) as srv:
        url = srv.url
        assert f"mwrelease channel trust {url} --root-sha256" in refused(run_cli, url)
        sha = hashlib.sha256((channel / "metadata/1.root.json").read_bytes()).hexdigest()
        assert run_cli("channel", "trust", url, "--root-sha256", sha).returncode == 0
        assert rows(shown(run_cli, url)) == EXPECTED
        # An old targets version edited on the server (bob's signature dropped): it no longer meets the threshold
        # of a verified root, so nobody is named for 1.43.4 (rather than a half-true list); 1.43.5 is unmoved.
        old = channel / "metadata/1.targets.json"
        md = Metadata.from_bytes(old.read_bytes())
        bob = k_id(channel, "bob")
        del md.signatures[bob]
        old.write_bytes(md.to_bytes())
        assert rows(shown(run_cli, url)) == [("1.43.4", "sealed", [], 1), EXPECTED[1]]
        assert "approved by (not verifiable)" in run_cli("channel", "show", url).stdout
        # The release list itself changed on the server: refused, nothing listed.
        current = Metadata.from_bytes((channel / "metadata/2.targets.json").read_bytes())
        index = channel / "targets" / f"{current.signed.targets['index.json'].hashes['sha256']}.index.json"
        index.write_bytes(index.read_bytes().replace(b"1.43.5", b"1.43.9"))
        assert "index.json" in refused(run_cli, url)


def k_id(channel: Path, name: str) -> str:
    root = Metadata.from_bytes((channel / "metadata/root.json").read_bytes()).signed
    (kid,) = [kid for kid, key in root.keys.items() if key.unrecognized_fields.get("x-mwrelease-name") == name]
    return str(kid)
