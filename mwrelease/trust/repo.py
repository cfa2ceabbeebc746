"""The SIG's side of a signed channel (TUF roles over a channel directory): what it holds, for `sig status`
(`channel show` reads a channel as an admin does, through the verifying client: trust/show.py).

The rest lives beside it, one idea each: layout.py (the directory, reading metadata, atomic writes), root.py
(changes to the SIG, i.e. root versions), proposal.py (staging a release for approval) and publish.py
(approve, publish, refresh). Roles: root = the chairs' offline keys (threshold R); top-level targets = the
members' keys (threshold K); snapshot and timestamp = one online key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import Channel, now
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
