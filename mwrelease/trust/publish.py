"""Approval and publication: a member signs a proposal; the online key publishes an approved one (targets,
then snapshot, then timestamp last) and re-signs snapshot and timestamp before they expire (`channel refresh`).

Members sign on their own machines, each on a copy of the proposal: `release approve -o FILE` writes the
signature and the signed approval note as one small file (``mwrelease.approval/1``) that travels by mail or a
pull request, and `channel publish --signature FILE` gathers such files (or a bare signatures/KEYID.json and
KEYID.approval.json) into the proposal, each checked by python-tuf against the staged targets first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any, NoReturn

from mwrelease.errors import ChecksFailed, ConfigError, DiskFull, IntegrityError, NothingToDo
from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import INDEX_TARGET, ONLINE_ROLES, Channel, channel_lock, md_bytes, now, write_atomic
from mwrelease.trust.proposal import Proposal, check_not_stale, check_same_channel, load_proposal, verification


def _day(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


# --- snapshot and timestamp ----------------------------------------------------------------------

def _check_online(channel: Channel, signer: Any) -> None:
    root = channel.root().signed
    for role in ONLINE_ROLES:
        if signer.public_key.keyid not in root.roles[role].keyids:
            raise ConfigError(f"Key {key_name(signer.public_key)} ({signer.public_key.keyid[:12]}…) is not the "
                              f"channel's online key (the {role} key of root version {root.version}).",
                              hint="Pass the online key given to `sig init` (or to `sig rotate-online`).")


def _check_root_fresh(channel: Channel) -> None:
    root = channel.root().signed
    if root.is_expired(now()):
        raise IntegrityError(f"The channel's root (version {root.version}) expired on {_day(root.expires)}: "
                             "clients refuse it, so nothing is published.",
                             hint="The chairs renew it with `mwrelease sig renew --channel DIR --sign-root KEY ...`.")


def _write_snapshot_and_timestamp(channel: Channel, targets_version: int, targets_bytes: bytes | None,
                                  online: Any) -> tuple[int, int]:
    """Write (N+1).snapshot.json, then timestamp.json (atomic rename, last). Returns (snapshot v, timestamp v)."""
    from tuf.api.metadata import Metadata, MetaFile, Snapshot, Timestamp  # type: ignore[attr-defined]

    expiry = channel.expiry()
    old_ts = channel.timestamp()
    old_snap = channel.snapshot()
    snap_version = (old_snap.signed.version if old_snap else 0) + 1
    ts_version = (old_ts.signed.version if old_ts else 0) + 1
    if targets_bytes is None:
        targets_bytes = (channel.meta / f"{targets_version}.targets.json").read_bytes()
    snap = Metadata(Snapshot(version=snap_version, expires=now() + dt.timedelta(seconds=expiry["snapshot"]),
                             meta={"targets.json": MetaFile(version=targets_version, length=len(targets_bytes),
                                                            hashes={"sha256": hashlib.sha256(targets_bytes).hexdigest()})}))
    snap.sign(online)
    snap_bytes = md_bytes(snap)
    write_atomic(channel.meta / f"{snap_version}.snapshot.json", snap_bytes)
    ts = Metadata(Timestamp(version=ts_version, expires=now() + dt.timedelta(seconds=expiry["timestamp"]),
                            snapshot_meta=MetaFile(version=snap_version, length=len(snap_bytes),
                                                   hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()})))
    ts.sign(online)
    write_atomic(channel.meta / "timestamp.json", md_bytes(ts))
    return snap_version, ts_version


def refresh(channel_dir: Path, online: Any) -> dict[str, Any]:
    """Re-sign snapshot and timestamp (an operator's cron job). Targets are unchanged."""
    Channel(channel_dir).require()
    with channel_lock(Channel(channel_dir)):
        return _refresh(channel_dir, online)


def _refresh(channel_dir: Path, online: Any) -> dict[str, Any]:
    channel = Channel(channel_dir)
    channel.require()
    _check_online(channel, online)
    _check_root_fresh(channel)
    tv = channel.targets_version()
    if tv == 0:
        raise NothingToDo(f"The channel {channel_dir} has no published targets yet; there is nothing to re-sign.",
                          hint="Publish a first release with `mwrelease channel publish PROPOSAL`.")
    warnings = []
    targets = channel.targets()
    if targets is not None and targets.signed.is_expired(now()):
        warnings.append(f"targets version {tv} expired on {_day(targets.signed.expires)}: clients refuse the channel "
                        "until members approve a new targets version")
    sv, tsv = _write_snapshot_and_timestamp(channel, tv, None, online)
    return {"targets_version": tv, "snapshot_version": sv, "timestamp_version": tsv, "warnings": warnings}


def approve(proposal_dir: Path, signer: Any, *, override_reason: str | None = None,
            channel_dir: Path | None = None, output: Path | None = None) -> Path:
    """Write signatures/<keyid>.json: the member's TUF signature over the staged targets (and, with ``output``,
    the signature and the approval note as one small file to send to the release manager)."""
    from mwrelease.trust.dsse import APPROVAL_PREDICATE, STATEMENT_TYPE, sign_statement, write_envelope

    p = load_proposal(proposal_dir)
    root = p.root.signed
    if channel_dir is not None:
        channel = Channel(channel_dir)
        check_same_channel(p, channel)
        check_not_stale(p, channel)
        root = channel.root().signed
    kid = signer.public_key.keyid
    if kid not in root.roles["targets"].keyids:
        raise ConfigError(f"Key {key_name(signer.public_key)} ({kid[:12]}…) is not a current SIG member "
                          f"(root version {root.version}); its approval would not count.",
                          hint="Members: " + ", ".join(key_name(root.keys[k]) for k in root.roles["targets"].keyids)
                          + ". A new member is added by the chairs with `mwrelease sig members add`.")
    p.check_seal()  # a seal of another artifact is refused before anyone signs
    custom = p.artifact_custom()
    verdict = custom.get("verdict")
    if p.release is not None and verdict != "sealed" and not override_reason:
        raise ChecksFailed(f"The release {custom.get('version')} is not sealed (seal verdict: {verdict}); approving it "
                           "is refused.", hint="Review it with `mwrelease release review`. To approve anyway, pass "
                           "--override-seal REASON (the reason is recorded beside your signature).")
    sig = p.targets.sign(signer, append=True)
    out = p.dir / "signatures" / f"{kid}.json"
    write_atomic(out, (json.dumps(sig.to_dict(), indent=1) + "\n").encode())
    # The approval note: what this member approved and why, signed (DSSE) so it cannot be edited later.
    note = {"_type": STATEMENT_TYPE,
            "subject": [{"name": f"{p.targets.signed.version}.targets.json",
                         "digest": {"sha256": hashlib.sha256(p.targets.signed_bytes).hexdigest()}}],
            "predicateType": APPROVAL_PREDICATE,
            "predicate": {"member": key_name(signer.public_key), "version": custom.get("version"),
                          "verdict": verdict, "override_reason": override_reason, "approved": now().isoformat()}}
    envelope = sign_statement(note, signer)
    write_envelope(p.dir / "signatures" / f"{kid}.approval.json", envelope)
    if output is not None:
        travel = {"format": APPROVAL_FILE_FORMAT, "channel_id": p.doc.get("channel_id"),
                  "release": custom.get("version"), "targets_version": p.targets.signed.version,
                  "targets_sha256": hashlib.sha256(p.targets.signed_bytes).hexdigest(),
                  "member": key_name(signer.public_key), "signature": sig.to_dict(), "approval": envelope}
        write_atomic(output, (json.dumps(travel, indent=1) + "\n").encode())
    return out


# --- signatures made on other machines ------------------------------------------------------------

APPROVAL_FILE_FORMAT = "mwrelease.approval/1"


def _what(p: Proposal) -> str:
    rel = (p.release or {}).get("version")
    return (f"MediaWiki {rel}" if rel else "a renewal") + f", targets version {p.targets.signed.version}, sha256 " \
        f"{hashlib.sha256(p.targets.signed_bytes).hexdigest()[:12]}…"


def _read_travelled(path: Path) -> tuple[Any | None, dict[str, Any] | None, dict[str, Any]]:
    """(TUF signature, approval note envelope, header) of a file that travelled: an approval file of
    `release approve -o`, a bare signatures/KEYID.json or a bare KEYID.approval.json."""
    from securesystemslib.signer import Signature  # type: ignore[attr-defined]

    def signature(d: Any) -> Any:
        sig = Signature.from_dict(dict(d))
        if not isinstance(sig.keyid, str) or not isinstance(sig.signature, str):
            raise ValueError("keyid and sig must be strings")
        return sig

    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("format") == APPROVAL_FILE_FORMAT:
            note = data.get("approval")
            return signature(data["signature"]), note if isinstance(note, dict) else None, data
        if isinstance(data, dict) and "payloadType" in data:
            return None, data, {}
        return signature(data), None, {}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"{path} is not a signature file ({type(exc).__name__}: {exc}); nothing was published.",
                             hint="Pass the file a member wrote with `mwrelease release approve PROPOSAL --key KEY -o "
                                  "FILE` (or their signatures/KEYID.json).") from None


def _check_note(path: Path, note: dict[str, Any], p: Proposal, root: Any, keyid: str | None) -> str:
    """The keyid of the member whose DSSE approval note ``note`` is, over this proposal's staged targets."""
    from securesystemslib.dsse import Envelope

    from mwrelease.trust.dsse import APPROVAL_PREDICATE

    members = [root.keys[k] for k in root.roles["targets"].keyids if keyid in (None, k)]
    try:
        env = Envelope.from_dict(json.loads(json.dumps(note)))  # from_dict takes the signatures out of its dict
        signed = env.verify(members, 1)
        st = json.loads(env.payload)
        digest = st["subject"][0]["digest"]["sha256"]
        ok = st.get("predicateType") == APPROVAL_PREDICATE and \
            digest == hashlib.sha256(p.targets.signed_bytes).hexdigest()
    except Exception:
        ok, signed = False, {}
    if not ok:
        raise IntegrityError(f"The approval note in {path} does not verify for this proposal ({_what(p)}): it is not "
                             f"signed by {'that' if keyid else 'a current'} member, names another proposal, or was "
                             "edited after signing; nothing was published.",
                             hint=f"Ask {key_name(root.keys[keyid]) if keyid else 'the member'} to approve this "
                                  "proposal again and send the new file.")
    return str(next(iter(signed)))


def gather(p: Proposal, root: Any, paths: list[Path]) -> list[str]:
    """Check every signature file of ``paths`` with python-tuf against the staged targets and ``root``'s members,
    then copy them into the proposal's signatures/ (all or none). Returns the names of the members gathered."""
    found: dict[str, tuple[Any | None, dict[str, Any] | None]] = {}
    for path in dict.fromkeys(paths):
        sig, note, head = _read_travelled(path)
        kid = sig.keyid if sig is not None else None
        if sig is not None:
            # python-tuf's own check of this one signature, as for the gathered K at publish time
            res = root.get_verification_result("targets", p.targets.signed_bytes, {sig.keyid: sig})
            if sig.keyid not in res.signed:
                _refuse(path, sig.keyid, head, p, root)
        if note is not None:
            kid = _check_note(path, note, p, root, kid)
        assert kid is not None
        old = found.get(kid, (None, None))
        found[kid] = (sig if sig is not None else old[0], note if note is not None else old[1])
    for kid, (sig, note) in found.items():
        if sig is not None:
            write_atomic(p.dir / "signatures" / f"{kid}.json", (json.dumps(sig.to_dict(), indent=1) + "\n").encode())
            p.targets.signatures[kid] = sig
        if note is not None:
            write_atomic(p.dir / "signatures" / f"{kid}.approval.json", (json.dumps(note, indent=1) + "\n").encode())
    return [key_name(root.keys[k]) for k in found]


def _refuse(path: Path, kid: str, head: dict[str, Any], p: Proposal, root: Any) -> NoReturn:
    key = root.keys.get(kid) or p.root.signed.keys.get(kid)
    who = key_name(key) if key is not None else f"key {kid[:12]}…"
    if kid not in root.roles["targets"].keyids:
        raise IntegrityError(f"{path} is signed by {who}, who is not a current SIG member (root version "
                             f"{root.version}): the signature does not count; nothing was published.",
                             hint="Members: " + ", ".join(key_name(root.keys[k]) for k in root.roles["targets"].keyids)
                             + ". A new member is added by the chairs with `mwrelease sig members add`.")
    other = bool(head) and (head.get("channel_id"), head.get("targets_version"), head.get("targets_sha256")) != (
        p.doc.get("channel_id"), p.targets.signed.version, hashlib.sha256(p.targets.signed_bytes).hexdigest())
    said = (f"{'MediaWiki ' + str(head['release']) if head.get('release') else 'a renewal'}, targets version "
            f"{head.get('targets_version')}, sha256 {str(head.get('targets_sha256'))[:12]}…"
            + (f", for another channel ({str(head.get('channel_id'))[:12]}…)"
               if head.get("channel_id") != p.doc.get("channel_id") else "")) if other else ""
    raise IntegrityError(f"{path} is {who}'s approval of another proposal ({said}), not of this one ({_what(p)}); "
                         "nothing was published." if other else
                         f"{who}'s signature in {path} does not verify over this proposal's staged targets "
                         f"({_what(p)}): it was made over other bytes, or the file or the proposal was changed "
                         "after signing; nothing was published.",
                         hint=f"Ask {who} to approve this proposal (`mwrelease release approve PROPOSAL --key KEY -o "
                              "FILE`) and send that file.")


def publish(proposal_dir: Path, channel_dir: Path, online: Any, *,
            signatures: list[Path] | None = None) -> dict[str, Any]:
    """Publish an approved proposal: targets files, N.targets.json, snapshot, then timestamp (last). ``signatures``:
    signature files made on other machines, gathered into the proposal first (each must verify)."""
    Channel(channel_dir).require()
    with channel_lock(Channel(channel_dir)):
        return _publish(proposal_dir, channel_dir, online, signatures or [])


def _publish(proposal_dir: Path, channel_dir: Path, online: Any, signatures: list[Path]) -> dict[str, Any]:
    from tuf.api.exceptions import UnsignedMetadataError

    p = load_proposal(proposal_dir)
    channel = Channel(channel_dir)
    check_same_channel(p, channel)
    check_not_stale(p, channel)
    _check_online(channel, online)
    _check_root_fresh(channel)
    root = channel.root().signed
    if p.targets.signed.is_expired(now()):
        raise ConfigError(f"The staged targets expired on {_day(p.targets.signed.expires)}.",
                          hint="Propose the release again.")
    current = channel.targets()
    if current is not None:
        staged = p.targets.signed.targets
        moved = [n for n, tf in current.signed.targets.items() if n != INDEX_TARGET and
                 (n not in staged or staged[n].hashes != tf.hashes or staged[n].length != tf.length)]
        if moved:
            raise IntegrityError(f"The proposal changes or drops {len(moved)} file(s) the channel already published; "
                                 "a published file is never replaced.", details=moved[:10],
                                 hint="Propose the release again from the channel's current state.")
    gathered = gather(p, root, signatures) if signatures else []
    result = verification(root, p)
    try:
        # python-tuf's own check, exactly what a client does with this targets metadata.
        root.verify_delegate("targets", p.targets.signed_bytes, p.targets.signatures)
    except UnsignedMetadataError:
        ignored = [f"{key_name(p.root.signed.keys[k]) if k in p.root.signed.keys else k[:12]}: "
                   + ("not a current member" if k not in root.roles["targets"].keyids else "signature does not verify "
                      "(made over other bytes)") for k in p.targets.signatures if k not in result.signed]
        version = (p.release or {}).get("version") or f"targets version {p.targets.signed.version}"
        raise IntegrityError(f"Release {version} has {len(result.signed)} of {result.threshold} required SIG approvals; "
                             "nothing was published.", details=ignored + [f"unreadable signature file {b}" for b in
                                                                          p.bad_signature_files],
                             hint="Members approve on their machine with `mwrelease release approve PROPOSAL --key KEY "
                                  "-o FILE` and send FILE; pass it with `channel publish PROPOSAL --signature FILE`"
                                  + (f" ({', '.join(gathered)} gathered now: kept in {p.dir}/signatures/)"
                                     if gathered else "") + ".") from None
    version = p.targets.signed.version
    try:
        # 1. target files (content-addressed: writing them early can confuse no client)
        for name in os.listdir(p.dir / "files"):
            tf = p.targets.signed.targets[name]
            dest = channel.target_path(name, tf.hashes["sha256"])
            if not dest.exists():
                write_atomic(dest, (p.dir / "files" / name).read_bytes())
        # 2. The members' approval notes (DSSE, signed by each member; override reasons) go public beside the
        # metadata: not TUF targets, each verifiable on its own. Before the metadata, so that a publish
        # interrupted once the timestamp is out cannot leave a live release without them.
        for kid in result.signed:
            note = p.dir / "signatures" / f"{kid}.approval.json"
            if note.is_file():
                write_atomic(channel.dir / "approvals" / str(version) / note.name, note.read_bytes())
        # 3. N.targets.json, 4. snapshot, 5. timestamp: a client never sees a snapshot naming a missing targets.
        targets_bytes = md_bytes(p.targets)
        write_atomic(channel.meta / f"{version}.targets.json", targets_bytes)
        sv, tsv = _write_snapshot_and_timestamp(channel, version, targets_bytes, online)
    except OSError as exc:
        from mwrelease.fsutil import is_disk_full

        if not is_disk_full(exc):
            raise
        raise DiskFull(f"The disk filled up while publishing {_what(p)} into {channel.dir} ({exc.strerror or exc}); "
                       f"timestamp.json was not replaced, so clients still see targets version {version - 1} and "
                       "nothing half-published is served.",
                       hint="Free space on that filesystem, then run `mwrelease channel publish` again (the files "
                            "already written are reused).") from None
    approvers = [key_name(k) for k in result.signed.values()]
    record = {"published": now().isoformat(), "targets_version": version, "approved_by": approvers}
    (p.dir / "published.json").write_text(json.dumps(record, indent=1) + "\n")
    return {"release": p.release, "targets_version": version, "snapshot_version": sv, "timestamp_version": tsv,
            "approved_by": approvers, "gathered": gathered}
