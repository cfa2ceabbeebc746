"""Issue 9 item 4: members sign on different machines. A member approves a copy of the proposal on their own
machine, only a small signature file travels back (mail, a pull request), and `channel publish --signature FILE`
gathers it, checked by python-tuf against the staged targets first. Through the real CLI."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from tests.unit.test_trust import (Keys, Run, channel, k, key_dir, passphrase,  # noqa: F401 (fixtures)
                                   approve, propose_cli, publish_cli, releases, show_cli, snapshot_of)


def keyid(k: Keys, name: str) -> str:
    return str(json.loads(k.pub(name).read_text())["keyid"])


def other_machine(proposal: Path, where: Path) -> Path:
    """The proposal as a member receives it on their own machine: a copy, nothing shared with the original."""
    copy = where / proposal.name
    shutil.copytree(proposal, copy)
    return copy


def publish_with(run_cli: Run, k: Keys, proposal: Path, channel: Path, *files: Path) -> tuple[int, dict[str, object]]:
    r = run_cli("channel", "publish", str(proposal), "--channel", str(channel), "--online-key", str(k.priv("online")),
                *[a for f in files for a in ("--signature", str(f))], "--json")
    assert "Traceback" not in r.stdout + r.stderr
    return r.returncode, json.loads(r.stdout)


def error(out: dict[str, object]) -> str:
    errors = out["errors"]
    assert isinstance(errors, list) and len(errors) == 1
    return str(errors[0]["message"])


def test_a_signature_made_on_another_machine_travels_as_one_small_file(run_cli: Run, k: Keys, tmp_path: Path,
                                                                        channel: Path,  # noqa: F811
                                                                        releases: dict[str, Path]) -> None:  # noqa: F811
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    approve(run_cli, k, p, "alice")  # alice signs the release manager's own copy
    laptop = other_machine(p, tmp_path / "bob-laptop")
    mail = tmp_path / "mail" / "bob.approval.json"  # -o creates the missing folder
    r = run_cli("release", "approve", str(laptop), "--key", str(k.priv("bob")), "-o", str(mail))
    assert r.returncode == 0, r.stderr
    assert str(mail) in r.stdout and "send this one file" in r.stdout and "--signature FILE" in r.stdout
    sent = json.loads(mail.read_text())
    assert mail.stat().st_size < 4096 and sent["format"] == "mwrelease.approval/1" and sent["member"] == "bob"
    assert sent["signature"]["keyid"] == keyid(k, "bob") and sent["targets_version"] == 1 and sent["approval"]
    assert not (p / "signatures" / f"{keyid(k, 'bob')}.json").exists()  # nothing shared but the file
    code, out = publish_with(run_cli, k, p, channel)
    assert code == 8 and "1 of 2 required SIG approvals" in error(out) and "--signature FILE" in str(out)
    code, out = publish_with(run_cli, k, p, channel, mail)
    assert code == 0, out
    data = out["data"]
    assert isinstance(data, dict) and sorted(data["approved_by"]) == ["alice", "bob"] and data["gathered"] == ["bob"]
    # gathered into the proposal, and bob's signed approval note went public beside the metadata
    assert json.loads((p / "signatures" / f"{keyid(k, 'bob')}.json").read_text()) == sent["signature"]
    assert json.loads((channel / "approvals/1" / f"{keyid(k, 'bob')}.approval.json").read_text()) == sent["approval"]
    shown = json.loads(show_cli(run_cli, channel, "--json").stdout)["data"]["releases"]
    assert [(r["version"], sorted(r["approved_by"])) for r in shown] == [("1.43.4", ["alice", "bob"])]


def test_bare_signature_files_of_a_copy_travel_too(run_cli: Run, k: Keys, tmp_path: Path,
                                                    channel: Path, releases: dict[str, Path]) -> None:  # noqa: F811
    """Without -o a member sends signatures/KEYID.json (and KEYID.approval.json) of their copy: gathered alike."""
    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    carols, alices = other_machine(p, tmp_path / "carol"), other_machine(p, tmp_path / "alice")
    r = run_cli("release", "approve", str(carols), "--key", str(k.priv("carol")), "--json")
    assert r.returncode == 0, r.stderr
    sent = [Path(f) for f in json.loads(r.stdout)["data"]["send"]]
    assert [f.name for f in sent] == [f"{keyid(k, 'carol')}.json", f"{keyid(k, 'carol')}.approval.json"]
    approve(run_cli, k, alices, "alice")
    alice_sig = alices / "signatures" / f"{keyid(k, 'alice')}.json"  # the signature alone, no note
    code, out = publish_with(run_cli, k, p, channel, *sent, alice_sig)
    assert code == 0, out
    data = out["data"]
    assert isinstance(data, dict) and sorted(data["approved_by"]) == ["alice", "carol"]
    assert sorted(data["gathered"]) == ["alice", "carol"]
    assert sorted(f.name for f in (channel / "approvals/1").iterdir()) == [f"{keyid(k, 'carol')}.approval.json"]


def test_signature_files_that_do_not_count_are_refused(run_cli: Run, k: Keys, tmp_path: Path,
                                                       channel: Path, releases: dict[str, Path]) -> None:  # noqa: F811
    from tuf.api.metadata import Metadata

    p = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4")
    other = propose_cli(run_cli, tmp_path, k, channel, releases["1.43.4"], "1.43.4", name="other-proposal")
    approve(run_cli, k, p, "alice")
    mail = tmp_path / "mail"
    r = run_cli("release", "approve", str(other_machine(other, tmp_path / "bob1")), "--key", str(k.priv("bob")),
                "-o", str(mail / "bob-other.json"))
    assert r.returncode == 0, r.stderr
    r = run_cli("release", "approve", str(other_machine(p, tmp_path / "bob2")), "--key", str(k.priv("bob")),
                "-o", str(mail / "bob.json"))
    assert r.returncode == 0, r.stderr
    good = json.loads((mail / "bob.json").read_text())
    # bob's signature edited on the way
    forged = json.loads(json.dumps(good))
    forged["signature"]["sig"] = forged["signature"]["sig"][:-2] + ("00" if forged["signature"]["sig"][-2:] != "00"
                                                                    else "11")
    (mail / "forged.json").write_text(json.dumps(forged))
    # bob's signature intact, but the approval note's override reason edited on the way
    noted = json.loads(json.dumps(good))
    statement = json.loads(base64.b64decode(noted["approval"]["payload"]))
    statement["predicate"]["override_reason"] = "looks fine to me"
    noted["approval"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (mail / "note-edited.json").write_text(json.dumps(noted))
    # dave is no member: his signature over the right bytes still does not count
    md = Metadata.from_bytes((p / "targets.json").read_bytes())
    (mail / "dave.json").write_text(json.dumps(md.sign(k.signer("dave")).to_dict()))
    (mail / "garbled.json").write_text('{"keyid": "abc", "si')
    (mail / "odd.json").write_text('{"keyid": 5, "sig": "00"}')
    before = snapshot_of(channel)
    cases = [("bob-other.json", "bob's approval of another proposal"), ("forged.json", "does not verify over this "
             "proposal's staged targets"), ("note-edited.json", "approval note"), ("dave.json", "not a current SIG "
             "member"), ("garbled.json", "is not a signature file"), ("odd.json", "is not a signature file")]
    for name, needle in cases:
        code, out = publish_with(run_cli, k, p, channel, mail / name)
        assert code == 8 and needle in error(out) and "nothing was published" in error(out), (name, out)
        assert "\n" not in error(out)
    # all or none: a good file beside a bad one is not gathered either
    code, out = publish_with(run_cli, k, p, channel, mail / "bob.json", mail / "dave.json")
    assert code == 8 and "dave" in error(out)
    assert snapshot_of(channel) == before and not (channel / "metadata/timestamp.json").exists()
    assert {f.name for f in (p / "signatures").iterdir()} == {f"{keyid(k, 'alice')}.json",
                                                              f"{keyid(k, 'alice')}.approval.json"}
    code, out = publish_with(run_cli, k, p, channel, mail / "bob.json")
    assert code == 0, out
