"""The SIG's side of a signed channel (TUF roles over a channel directory): what it holds, for `sig status` and
`channel show`.

The rest lives beside it, one idea each: layout.py (the directory, reading metadata, atomic writes), root.py
(changes to the SIG, i.e. root versions), proposal.py (staging a release for approval) and publish.py
(approve, publish, refresh). Roles: root = the chairs' offline keys (threshold R); top-level targets = the
members' keys (threshold K); snapshot and timestamp = one online key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import CUSTOM_KEY, INDEX_TARGET, Channel, now
from mwrelease.trust.proposal import load_proposal, verification

# Re-exported for tests/trust_channel.py (branch trust-client), which builds real channels through this module.
from mwrelease.trust.layout import DEFAULT_EXPIRY as DEFAULT_EXPIRY
from mwrelease.trust.proposal import propose as propose
from mwrelease.trust.publish import approve as approve, publish as publish
from mwrelease.trust.root import RootSpec as RootSpec, init as init


def _names(root: Any, role: str) -> list[dict[str, str]]:
    return [{"name": key_name(root.keys[k]), "keyid": k} for k in root.roles[role].keyids]


def status(channel_dir: Path) -> dict[str, Any]:
    channel = Channel(channel_dir)
    channel.require()
    root = channel.root().signed
    ts, snap, targets = channel.timestamp(), channel.snapshot(), channel.targets()
    t = now()

    def exp(md: Any) -> dict[str, Any] | None:
        if md is None:
            return None
        return {"version": md.signed.version, "expires": md.signed.expires.isoformat(),
                "expired": md.signed.is_expired(t)}

    pending: list[dict[str, Any]] = []
    current = channel.targets_version()
    for pj in sorted((channel.dir / "proposals").glob("*/proposal.json")):
        if (pj.parent / "published.json").exists():
            continue
        try:
            p = load_proposal(pj.parent)
        except (ConfigError, IntegrityError) as exc:
            pending.append({"proposal": str(pj.parent), "error": exc.message})
            continue
        res = verification(root, p)
        pending.append({"proposal": str(pj.parent), "release": (p.release or {}).get("version"),
                        "approvals": len(res.signed), "threshold": res.threshold,
                        "approved_by": [key_name(k) for k in res.signed.values()],
                        "stale": p.doc.get("base_targets_version") != current})
    return {"channel": str(channel.dir), "channel_id": channel.channel_id(),
            "root": {"version": root.version, "expires": root.expires.isoformat(), "expired": root.is_expired(t),
                     "threshold": root.roles["root"].threshold, "chairs": _names(root, "root")},
            "members": _names(root, "targets"), "threshold": root.roles["targets"].threshold,
            "online_key": _names(root, "timestamp"), "expiry_seconds": channel.expiry(),
            "targets": exp(targets), "snapshot": exp(snap), "timestamp": exp(ts), "pending": pending}


def show(channel_dir: Path) -> list[dict[str, Any]]:
    """Each release in the channel's signed index with its verdict and the members whose approval added it."""
    from mwrelease.release.channel import ChannelIndex

    channel = Channel(channel_dir)
    channel.require()
    targets = channel.targets()
    if targets is None or INDEX_TARGET not in targets.signed.targets:
        return []
    idx = ChannelIndex.from_json(json.loads(channel.read_target(targets, INDEX_TARGET)), origin="index.json")
    keys: dict[str, Any] = {}
    for v in range(1, channel.root_version() + 1):
        keys.update(channel.root(v).signed.keys)
    first_version: dict[str, int] = {}
    approvers_of: dict[int, list[str]] = {}
    for v in range(1, targets.signed.version + 1):
        path = channel.meta / f"{v}.targets.json"
        if not path.is_file():
            continue
        md = channel._load(path.name)
        for name in md.signed.targets:
            first_version.setdefault(name, v)
        names = []
        for kid, sig in md.signatures.items():
            key = keys.get(kid)
            if key is None:
                continue
            try:
                key.verify_signature(sig, md.signed_bytes)
                names.append(key_name(key))
            except Exception:
                continue
        approvers_of[v] = names
    out = []
    for r in idx.releases:
        full = r.full().file
        tf = targets.signed.targets.get(full)
        custom = (tf.unrecognized_fields.get("custom", {}).get(CUSTOM_KEY, {}) if tf else {}) or {}
        tv = first_version.get(full)
        out.append({"overrides": _overrides(channel, tv, keys) if tv else [], "line": r.line, "version": r.version, "artifact": full, "verdict": custom.get("verdict"),
                    "override_reason": custom.get("override_reason"), "targets_version": tv,
                    "approved_by": approvers_of.get(tv, []) if tv else [], "upgrades_from": list(r.upgrades_from)})
    return out


def _overrides(channel: Channel, targets_version: int, keys: dict[str, Any]) -> list[dict[str, str]]:
    """Override reasons of the members who approved a targets version (their signed approval notes)."""
    from mwrelease.trust.dsse import APPROVAL_PREDICATE, verify_envelope

    out = []
    for note in sorted((channel.dir / "approvals" / str(targets_version)).glob("*.approval.json")):
        key = keys.get(note.name.split(".")[0])
        if key is None:
            continue
        try:
            statement, _ = verify_envelope(note, [key], predicate_type=APPROVAL_PREDICATE)
        except (IntegrityError, ConfigError):
            continue  # a note that does not verify is not shown
        reason = statement.get("predicate", {}).get("override_reason")
        if reason:
            out.append({"member": key_name(key), "reason": str(reason)})
    return out
