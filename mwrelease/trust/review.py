"""`release review`: what a member is about to approve, read from the staged (hash-checked) files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import INDEX_TARGET
from mwrelease.trust.proposal import load_proposal, target_changes, verification


def review(path: Path, channel_dir: Path | None = None) -> dict[str, Any]:
    """What PROPOSAL asks members to sign. With ``channel_dir``, the changes since the line's previous release
    are computed from the channel's signed metadata instead of taken from proposal.json (which nobody signs)."""
    from mwrelease.release.manifest import Manifest
    from mwrelease.trust.layout import Channel
    from mwrelease.trust.proposal import check_same_channel, component_changes, previous_release

    p = load_proposal(path)  # every staged file is checked against the staged targets here
    rel = p.release or {}
    files = p.dir / "files"
    manifest = None
    comps: list[dict[str, Any]] = []
    artifact = rel.get("artifact")
    if artifact:
        mname = str(artifact)[: -len(".tar.gz")] + ".manifest.json"
        if (files / mname).is_file():
            manifest = Manifest.from_json(json.loads((files / mname).read_text()), origin=mname)
    seal = p.check_seal()  # the seal must name the staged artifact's sha256 (TrustError otherwise)
    pred = (seal or {}).get("predicate", {})
    seal_comps = pred.get("components", {}) if isinstance(pred, dict) else {}
    cells = pred.get("cells", {}) if isinstance(pred, dict) else {}
    for c in manifest.components if manifest else ():
        sc = seal_comps.get(c.name) or {}
        comps.append({"name": c.name, "kind": c.kind, "version": c.version, "ref": c.ref, "commit": c.commit,
                      "source": c.source, "verdict": sc.get("verdict", "not in the seal" if seal else "unsealed"),
                      "cells": sc.get("cells", {}), "reasons": sc.get("reasons", [])})
    changes = rel.get("changes", [])
    changes_from = "proposal.json"
    if channel_dir is not None and manifest is not None:
        channel = Channel(channel_dir)
        check_same_channel(p, channel)
        prev = previous_release(channel, channel.targets(), manifest.core_line, manifest.core_version)
        changes = component_changes(prev["manifest"] if prev else None, manifest)
        changes_from = f"the channel {channel_dir}"
    res = verification(p.root.signed, p)
    staged = []
    for name, tf in sorted(p.targets.signed.targets.items()):
        if (files / name).is_file():
            staged.append({"name": name, "length": tf.length, "sha256": tf.hashes.get("sha256")})
    overrides = []
    for note in sorted((p.dir / "signatures").glob("*.approval.json")):
        try:
            from mwrelease.trust.dsse import load_envelope

            pred_note = json.loads(load_envelope(note).payload).get("predicate", {})
            if pred_note.get("override_reason"):
                overrides.append({"member": pred_note.get("member"), "reason": pred_note.get("override_reason")})
        except Exception:  # a damaged note is shown as missing, the signature itself is what counts
            continue
    return {
        "proposal": str(p.dir), "channel_id": p.doc.get("channel_id"),
        "base_targets_version": p.doc.get("base_targets_version"), "targets_version": p.targets.signed.version,
        "expires": p.targets.signed.expires.isoformat(),
        "release": {k: rel.get(k) for k in ("version", "line", "bundle", "verdict", "override_reason", "lock_sha256",
                                            "seal_sha256", "seal_signer", "previous", "deltas")} if rel else None,
        "components": comps, "changes": changes, "changes_from": changes_from,
        "seal": {"verdict": pred.get("verdict"), "reasons": pred.get("reasons", []), "cells": cells,
                 "policy": (pred.get("policy") or {}).get("name")} if seal else None,
        "staged_files": staged, "targets": target_changes(p),
        "approvals": {"count": len(res.signed), "threshold": res.threshold,
                      "by": [key_name(k) for k in res.signed.values()], "overrides": overrides},
    }


def render(d: dict[str, Any]) -> str:
    out = [f"proposal {d['proposal']}: targets version {d['targets_version']} (on {d['base_targets_version']}), "
           f"expires {d['expires']}"]
    rel = d.get("release")
    if rel:
        out.append(f"MediaWiki {rel['version']} ({rel['line']}, bundle {rel['bundle']}): seal {str(rel['verdict']).upper()}"
                   + (f" by {rel['seal_signer']}" if rel.get("seal_signer") else "")
                   + (f"; override: {rel['override_reason']}" if rel.get("override_reason") else ""))
        out.append(f"  previous release of the line: {rel.get('previous') or '(none: first of its line)'}")
    else:
        out.append("no new release: the current targets staged again (renewal / re-approval)")
    if d["components"]:
        out.append("components:")
        for c in d["components"]:
            cells = ", ".join(f"{cid}={st}" for cid, st in sorted(c["cells"].items())) or "no cells"
            out.append(f"  {c['kind']:9} {c['name']:<24} {c['version'] or '-':<10} ref {c['ref'] or '-':<10} "
                       f"commit {(c['commit'] or '-')[:12]:<12} {c['verdict']:<12} [{cells}]")
            for r in c["reasons"][:3]:
                out.append(f"              {r}")
    seal = d.get("seal")
    if seal and seal["cells"]:
        out.append("cells the seal rests on:")
        for cid, cell in sorted(seal["cells"].items()):
            desc = ", ".join(f"{k} {v}" for k, v in cell.items() if k in ("core_line", "php", "db", "status")) \
                if isinstance(cell, dict) else str(cell)
            out.append(f"  {cid}: {desc}")
    if d["changes"]:
        out.append(f"changes since the previous release (from {d['changes_from']}):")
        for ch in d["changes"]:
            if ch["change"] == "updated" and ch["component"] == "core":
                out.append(f"  core {ch['from']} -> {ch['to']}")
            elif ch["change"] == "updated":
                f, t = ch["from"], ch["to"]
                out.append(f"  {ch['component']}: ref {f['ref']} -> {t['ref']}, commit {(f['commit'] or '-')[:12]} -> "
                           f"{(t['commit'] or '-')[:12]}, version {f['version']} -> {t['version']}")
            else:
                out.append(f"  {ch['component']} {ch['change']}")
    elif rel and rel.get("previous"):
        out.append("no component changed since the previous release")
    tc = d["targets"]
    published = [n for n in tc["changed"] + tc["dropped"] if n != INDEX_TARGET]
    if published:
        out.append("WARNING: this proposal changes or drops files already published (publish will refuse it): "
                   + ", ".join(published))
    out.append("staged files: " + ", ".join(f"{f['name']} ({f['length']} B)" for f in d["staged_files"]))
    a = d["approvals"]
    out.append(f"approvals: {a['count']} of {a['threshold']}" + (f" ({', '.join(a['by'])})" if a["by"] else ""))
    for o in a["overrides"]:
        out.append(f"  {o['member']} overrode the seal: {o['reason']}")
    return "\n".join(out)
