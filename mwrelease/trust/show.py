"""`channel show` of a signed channel, from metadata python-tuf verified against the admin's trust anchor.

The release list is the signed index.json (a TUF target); each release's verdict and override reason are the
custom fields K members signed on its artifact. Who approved a release: the members whose signatures verify over
the targets version that added it (the signed ``targets_version`` field names it). That historical N.targets.json
is fetched from the channel and must list the artifact with the hashes the current, verified targets signs, and
its signatures must meet the targets threshold of a root this client verified (its root history): a forged or
edited old version shows nobody. Override reasons come from the members' signed approval notes of that version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tuf.api.metadata import Metadata

from mwrelease.trust.client import TrustedChannel
from mwrelease.trust.refusals import member_name

HISTORY_MAX_BYTES = 16 << 20   # an old targets version, read only to name its signers
NOTE_MAX_BYTES = 64 << 10


def _trusted_roots(tc: TrustedChannel) -> list[Any]:
    """Every root version this client verified, newest first (python-tuf keeps them in root_history/)."""
    assert tc.anchor is not None
    tc.refresh()
    roots = {}
    for path in [*(tc.anchor.metadata_dir / "root_history").glob("*.root.json"), tc.anchor.metadata_dir / "root.json"]:
        try:
            md: Any = Metadata.from_bytes(path.read_bytes())
        except Exception:  # an unreadable cache file names nobody
            continue
        roots[md.signed.version] = md.signed
    return [roots[v] for v in sorted(roots, reverse=True)]


def _fetch(tc: TrustedChannel, rel: str, limit: int) -> bytes | None:
    try:
        return bytes(tc.fetcher.download_bytes(tc.base + rel, limit))
    except Exception:  # missing or too long: the approval cannot be shown, nothing else follows from it
        return None


def _approvers(tc: TrustedChannel, version: int, artifact: str, info: Any,
               roots: list[Any]) -> tuple[list[str], list[dict[str, str]]]:
    """(names, override notes) of the members whose signatures over targets ``version`` verify, or ([], [])."""
    data = _fetch(tc, f"metadata/{version}.targets.json", HISTORY_MAX_BYTES)
    try:
        md: Any = Metadata.from_bytes(data) if data else None
    except Exception:
        md = None
    if md is None or md.signed.type != "targets" or md.signed.version != version:
        return [], []
    old = md.signed.targets.get(artifact)
    if old is None or old.hashes != info.hashes or old.length != info.length:
        return [], []
    for root in roots:
        res = root.get_verification_result("targets", md.signed_bytes, md.signatures)
        if res.verified:
            names = sorted(member_name(root, k) for k in res.signed)
            digest = hashlib.sha256(md.signed_bytes).hexdigest()
            notes = [n for k, key in sorted(res.signed.items()) if (n := _note(tc, version, k, key, digest, root))]
            return names, notes
    return [], []


def _note(tc: TrustedChannel, version: int, keyid: str, key: Any, digest: str, root: Any) -> dict[str, str] | None:
    """A member's signed override reason for targets ``version`` (DSSE over an in-toto statement naming it)."""
    from securesystemslib.dsse import Envelope

    from mwrelease.trust.dsse import APPROVAL_PREDICATE

    data = _fetch(tc, f"approvals/{version}/{keyid}.approval.json", NOTE_MAX_BYTES)
    try:
        env = Envelope.from_dict(json.loads(data or b"null"))
        env.verify([key], 1)
        st = json.loads(env.payload)
        subject = st["subject"][0]["digest"]["sha256"]
        reason = st["predicate"].get("override_reason") if st.get("predicateType") == APPROVAL_PREDICATE else None
    except Exception:  # absent, unsigned or edited: shown as no note
        return None
    return {"member": member_name(root, keyid), "reason": str(reason)} if reason and subject == digest else None


def verified_releases(tc: TrustedChannel) -> dict[str, Any]:
    """Each release of the channel with its signed verdict and who approved it, all verified."""
    idx = tc.index()
    current = tc.approvals()
    roots = _trusted_roots(tc)
    rows = []
    for r in idx.releases:
        full = r.full().file
        info = tc.targetinfo(full)
        fields = tc.release_fields(full)
        tv = fields.get("targets_version")
        if isinstance(tv, int) and 0 < tv < current.targets_version:
            approved_by, overrides = _approvers(tc, tv, full, info, roots)
        else:  # added by the current version (or signed before the field existed): its signers vouch for it now
            tv = current.targets_version
            approved_by, overrides = _approvers(tc, tv, full, info, roots)
            approved_by = approved_by or list(current.approved_by)
        rows.append({"line": r.line, "version": r.version, "artifact": full, "sha256": info.hashes.get("sha256"),
                     "verdict": fields.get("verdict"), "override_reason": fields.get("override_reason"),
                     "targets_version": tv, "approved_by": approved_by, "overrides": overrides,
                     "upgrades_from": list(r.upgrades_from)})
    return {"channel": tc.location, "verified": True, "targets_version": current.targets_version,
            "threshold": current.threshold, "members": list(current.members),
            "approved_by": list(current.approved_by), "releases": rows}


def render(d: dict[str, Any]) -> str:
    out = [f"{d['channel']}: verified against the trusted root; current release list (targets "
           f"v{d['targets_version']}) approved by {', '.join(d['approved_by'])} ({d['threshold']} of "
           f"{len(d['members'])} members required)"]
    for r in d["releases"]:
        out.append(f"{r['line']:6} {r['version']:10} {str(r['verdict']):12} approved by "
                   f"{', '.join(r['approved_by']) or '(not verifiable)'} (targets v{r['targets_version']})"
                   + (f"  override: {r['override_reason']}" if r["override_reason"] else ""))
        out += [f"{'':18}{o['member']} overrode the seal: {o['reason']}" for o in r["overrides"]]
    if not d["releases"]:
        out.append("(no releases)")
    return "\n".join(out)


__all__ = ["verified_releases", "render"]
