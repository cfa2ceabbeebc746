"""Proposals: a release staged as the channel's next targets version, waiting for the members' approvals.

A proposal is a directory: ``proposal.json`` (channel id, base targets version, release summary),
``targets.json`` (the staged next targets metadata, no signatures), ``root.json`` (the root it was staged
against, so members can check membership offline), ``files/`` (new target files) and
``signatures/<keyid>.json`` (one TUF signature each: small files that travel by mail or pull request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import CUSTOM_KEY, INDEX_TARGET, Channel, md_bytes, now

PROPOSAL_FORMAT = "mwrelease.proposal/1"


@dataclass(frozen=True, kw_only=True)
class SealInfo:
    statement: dict[str, Any]
    sha256: str          # of the envelope file as it travels
    signer: str          # name of the key that signed it
    verdict: str


def _release_artifacts(release_dir: Path, version: str | None) -> tuple[Path, list[Path]]:
    """(full artifact, delta artifacts) of one release in a `release build` output directory."""
    if release_dir.is_file():
        release_dir, version = release_dir.parent, release_dir.name[len("mediawiki-"):-len(".tar.gz")]
    if not release_dir.is_dir():
        raise ConfigError(f"Release directory {release_dir} does not exist.",
                          hint="Pass the -o directory of `mwrelease release build`.")
    fulls = sorted(p for p in release_dir.glob("mediawiki-*.tar.gz") if not p.name.endswith(".delta.tar.gz"))
    if version is not None:
        fulls = [p for p in fulls if p.name == f"mediawiki-{version}.tar.gz"]
    if len(fulls) != 1:
        raise ConfigError(f"{release_dir} holds {'no' if not fulls else len(fulls)} full release artifact(s)"
                          f"{' of ' + version if version else ''}; a proposal carries exactly one release.",
                          details=[p.name for p in fulls][:10],
                          hint="Pick one with --version X.Y.Z, or pass the artifact itself.")
    full = fulls[0]
    v = full.name[len("mediawiki-"):-len(".tar.gz")]
    deltas = sorted(release_dir.glob(f"mediawiki-{v}-from-*.delta.tar.gz"))
    return full, deltas


def _load_seal(envelope: Path, keys: list[Any]) -> SealInfo:
    from mwrelease.trust.dsse import verify_envelope

    statement, signed = verify_envelope(envelope, keys)
    verdict = str(statement.get("predicate", {}).get("verdict", "untested"))
    return SealInfo(statement=statement, sha256=hashlib.sha256(envelope.read_bytes()).hexdigest(),
                    signer=key_name(signed[0]), verdict=verdict)


def previous_release(channel: Channel, targets: Any | None, line: str, version: str) -> dict[str, Any] | None:
    """The newest release of ``line`` older than ``version`` in the published channel, with its manifest."""
    from mwrelease.release.channel import ChannelIndex
    from mwrelease.release.lines import version_key
    from mwrelease.release.manifest import Manifest

    if targets is None or INDEX_TARGET not in targets.signed.targets:
        return None
    idx = ChannelIndex.from_json(json.loads(channel.read_target(targets, INDEX_TARGET)), origin="index.json")
    older = [r for r in idx.releases if r.line == line and version_key(r.version) < version_key(version)]
    if not older:
        return None
    prev = older[-1]
    manifest = None
    if prev.manifest_file in targets.signed.targets:
        manifest = Manifest.from_json(json.loads(channel.read_target(targets, prev.manifest_file)))
    return {"version": prev.version, "manifest": manifest}


def component_changes(old: Any | None, new: Any) -> list[dict[str, Any]]:
    """Components added, removed or moved (ref, commit, version) between two manifests."""
    if old is None:
        return []
    before = {(c.kind, c.name): c for c in old.components}
    after = {(c.kind, c.name): c for c in new.components}
    out: list[dict[str, Any]] = []
    if old.core_version != new.core_version:
        out.append({"component": "core", "change": "updated", "from": old.core_version, "to": new.core_version})
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            out.append({"component": key[1], "kind": key[0], "change": "added", "ref": b.ref, "commit": b.commit})
        elif b is None and a is not None:
            out.append({"component": key[1], "kind": key[0], "change": "removed"})
        elif a is not None and b is not None and (a.ref, a.commit, a.version) != (b.ref, b.commit, b.version):
            out.append({"component": key[1], "kind": key[0], "change": "updated",
                        "from": {"ref": a.ref, "commit": a.commit, "version": a.version},
                        "to": {"ref": b.ref, "commit": b.commit, "version": b.version}})
    return out


def propose(channel_dir: Path, release: Path | None, *, out_dir: Path | None = None, version: str | None = None,
            seal: Path | None = None, seal_keys: list[Any] | None = None, lock: Path | None = None,
            override_reason: str | None = None) -> Path:
    """Stage the next targets version with one release (or, without ``release``, the current targets again)."""
    from tuf.api.metadata import Metadata, TargetFile, Targets  # type: ignore[attr-defined]

    from mwrelease.lock import Lock
    from mwrelease.release.channel import manifest_beside, publish as index_publish
    from mwrelease.release.manifest import Manifest, sha256_file
    from mwrelease.lock import lock_digest
    from mwrelease.trust.dsse import check_seal_names_artifact
    from mwrelease.trust.sbom import release_sbom

    channel = Channel(channel_dir)
    channel.require()
    root = channel.root()
    base = channel.targets()
    base_version = base.signed.version if base else 0
    expiry = channel.expiry()
    label = "renew"
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=".mwrelease-proposal-") as tmp:
        stage = Path(tmp, "files")
        stage.mkdir()
        new_files: dict[str, Path] = {}
        custom: dict[str, Any] = {}
        if release is not None:
            full, deltas = _release_artifacts(release, version)
            manifest = Manifest.load(manifest_beside(full))
            label = manifest.core_version
            # The index is the channel's own logic: copy the signed current index, add the release to it.
            if base is not None and INDEX_TARGET in base.signed.targets:
                (stage / INDEX_TARGET).write_bytes(channel.read_target(base, INDEX_TARGET))
            for art in (full, *deltas):
                index_publish(art, stage)
            stem = full.name[: -len(".tar.gz")]
            lk = Lock.load(lock) if lock else None
            (stage / f"{stem}.cdx.json").write_text(release_sbom(manifest, full, lk))
            seal_info: SealInfo | None = None
            if seal is not None:
                keys = seal_keys or [root.signed.keys[k] for k in root.signed.roles["targets"].keyids]
                seal_info = _load_seal(seal, keys)
                pred = seal_info.statement.get("predicate", {})
                subject = (seal_info.statement.get("subject") or [{}])[0].get("digest", {}).get("sha256")
                if lk is not None and lock_digest(lk) != subject:
                    raise IntegrityError(f"The seal {seal} is about another lock (sha256 {str(subject)[:12]}…) than "
                                         f"{lock} ({lock_digest(lk)[:12]}…).", hint="Pass the seal of this lock.")
                if (pred.get("core", {}).get("version"), pred.get("bundle")) != (manifest.core_version, manifest.bundle):
                    raise IntegrityError(
                        f"The seal {seal} is about bundle {pred.get('bundle')!r} on core "
                        f"{pred.get('core', {}).get('version')}, but the release is {manifest.bundle!r} on core "
                        f"{manifest.core_version}.", hint="Pass the seal of the lock this release was built from.")
                check_seal_names_artifact(seal_info.statement, full.name, sha256_file(full), str(seal))
                shutil.copyfile(seal, stage / f"{stem}.seal.dsse.json")
            lock_sha = lock_digest(lk) if lk else (
                (seal_info.statement.get("subject") or [{}])[0].get("digest", {}).get("sha256") if seal_info else None)
            custom = {"version": manifest.core_version, "line": manifest.core_line, "core_version": manifest.core_version,
                      "bundle": manifest.bundle, "lock_sha256": lock_sha,
                      "seal_sha256": seal_info.sha256 if seal_info else None,
                      "seal_signer": seal_info.signer if seal_info else None,
                      "verdict": seal_info.verdict if seal_info else "unsealed",
                      # the targets version K members sign to add it: where `channel show` finds who approved it
                      "targets_version": base_version + 1}
            if override_reason:
                custom["override_reason"] = override_reason
            prev = previous_release(channel, base, manifest.core_line, manifest.core_version)
            summary = {**custom, "artifact": full.name, "deltas": [d.name for d in deltas],
                       "components": [c.to_json() for c in manifest.components],
                       "previous": prev["version"] if prev else None,
                       "changes": component_changes(prev["manifest"] if prev else None, manifest)}
            new_files = {p.name: p for p in sorted(stage.iterdir())}
        # The staged targets: the current ones (if any) plus the new files; nothing published is ever replaced.
        signed: Any
        if base is not None:
            signed = Metadata.from_bytes(base.to_bytes()).signed
        else:
            signed = Targets(version=1)
        signed.version = base_version + 1
        signed.expires = now() + dt.timedelta(seconds=expiry["targets"])
        for name, path in new_files.items():
            tf = TargetFile.from_file(name, str(path), ["sha256"])
            old = signed.targets.get(name)
            if old is not None and name != INDEX_TARGET and old.hashes != tf.hashes:
                raise ConfigError(f"The channel already has {name} with other content (sha256 "
                                  f"{old.hashes.get('sha256', '?')[:12]}…); a published file is never replaced.",
                                  hint="Build the release under a new version.")
            if name.endswith(".tar.gz") and custom:
                kind = "delta" if name.endswith(".delta.tar.gz") else "full"
                tf.unrecognized_fields["custom"] = {CUSTOM_KEY: {**custom, "kind": kind}}
            signed.targets[name] = tf
        proposal = Metadata(signed)
        out = out_dir or channel.dir / "proposals" / f"{label}-t{signed.version}"
        if out.exists() and any(out.iterdir()):
            raise ConfigError(f"{out} already exists and is not empty.", hint="Pass another --out-dir folder, or remove it.")
        out.mkdir(parents=True, exist_ok=True)
        (out / "signatures").mkdir(exist_ok=True)
        shutil.copytree(stage, out / "files", dirs_exist_ok=True)
    (out / "targets.json").write_bytes(md_bytes(proposal))
    (out / "root.json").write_bytes(md_bytes(root))
    if base is not None:
        (out / "base-targets.json").write_bytes(md_bytes(base))
    doc = {"format": PROPOSAL_FORMAT, "channel_id": channel.channel_id(), "channel": str(channel.dir.resolve()),
           "base_targets_version": base_version, "targets_version": signed.version,
           "root_version": root.signed.version, "created": now().isoformat(), "release": summary or None}
    (out / "proposal.json").write_text(json.dumps(doc, indent=1) + "\n")
    return out


@dataclass(frozen=True, kw_only=True)
class Proposal:
    dir: Path
    doc: dict[str, Any]
    targets: Any          # Metadata[Targets], signatures gathered from signatures/
    root: Any             # the root it was staged against
    bad_signature_files: tuple[str, ...] = ()

    @property
    def release(self) -> dict[str, Any] | None:
        r = self.doc.get("release")
        return r if isinstance(r, dict) else None

    def check_seal(self) -> dict[str, Any] | None:
        """The staged seal's statement (unverified: its signer was checked at propose time), after checking that
        it names the staged artifact's sha256; None without a seal. TrustError when it names another artifact."""
        from mwrelease.trust.dsse import check_seal_names_artifact, load_envelope

        files = self.dir / "files"
        seal_files = sorted(files.glob("*.seal.dsse.json")) if files.is_dir() else []
        if not seal_files:
            return None
        statement: dict[str, Any] = json.loads(load_envelope(seal_files[0]).payload)
        artifact = (self.release or {}).get("artifact")
        tf = self.targets.signed.targets.get(artifact) if artifact else None
        if tf is not None:
            check_seal_names_artifact(statement, str(artifact), tf.hashes.get("sha256", ""), seal_files[0].name)
        return statement

    def artifact_custom(self) -> dict[str, Any]:
        for name, tf in self.targets.signed.targets.items():
            c = tf.unrecognized_fields.get("custom", {}).get(CUSTOM_KEY)
            if name == (self.release or {}).get("artifact") and isinstance(c, dict):
                return c
        return {}


def load_proposal(path: Path) -> Proposal:
    """Read a proposal directory; every staged file must match the staged targets' hashes."""
    from securesystemslib.signer import Signature  # type: ignore[attr-defined]
    from tuf.api.metadata import Metadata

    if path.is_file() and path.name in ("proposal.json", "targets.json"):
        path = path.parent
    try:
        doc = json.loads((path / "proposal.json").read_text())
        if not isinstance(doc, dict) or doc.get("format") != PROPOSAL_FORMAT:
            raise ValueError(f"format {doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    except FileNotFoundError:
        raise ConfigError(f"{path} is not a proposal (no proposal.json).",
                          hint="Pass the directory written by `mwrelease release propose`.") from None
    except ValueError as exc:
        raise ConfigError(f"{path}/proposal.json is damaged ({exc}).",
                          hint="Ask the release manager for the proposal again.") from None
    targets: Any
    try:
        targets = Metadata.from_bytes((path / "targets.json").read_bytes())
        root = Metadata.from_bytes((path / "root.json").read_bytes())
    except Exception as exc:
        raise ConfigError(f"{path}: targets.json or root.json is missing or damaged ({exc}).",
                          hint="Ask the release manager for the proposal again.") from None
    targets.signatures.clear()
    bad: list[str] = []
    sig_dir = path / "signatures"
    for f in sorted(sig_dir.glob("*.json")) if sig_dir.is_dir() else []:
        if f.name.endswith(".approval.json"):
            continue
        try:
            sig = Signature.from_dict(json.loads(f.read_text()))
            targets.signatures[sig.keyid] = sig
        except (ValueError, KeyError, TypeError, AttributeError):
            bad.append(f.name)
    for name in os.listdir(path / "files") if (path / "files").is_dir() else []:
        tf = targets.signed.targets.get(name)
        data = (path / "files" / name).read_bytes()
        try:
            if tf is None:
                raise ValueError("not in the staged targets")
            tf.verify_length_and_hashes(data)
        except Exception:
            raise IntegrityError(f"{path}/files/{name} does not match the staged targets.json: the proposal was "
                                 "changed after it was made.", hint="Ask the release manager for the proposal again.") from None
    return Proposal(dir=path, doc=doc, targets=targets, root=root, bad_signature_files=tuple(bad))


def target_changes(p: Proposal) -> dict[str, list[str]]:
    """Target paths the proposal adds, changes or drops relative to the targets it was staged on."""
    from tuf.api.metadata import Metadata

    base_path = p.dir / "base-targets.json"
    before: dict[str, Any] = {}
    if base_path.is_file():
        try:
            base: Any = Metadata.from_bytes(base_path.read_bytes())
            before = base.signed.targets
        except Exception:
            raise ConfigError(f"{base_path} is damaged.", hint="Ask the release manager for the proposal again.") from None
    after = p.targets.signed.targets
    return {"added": sorted(n for n in after if n not in before),
            "changed": sorted(n for n in after if n in before and after[n] != before[n]),
            "dropped": sorted(n for n in before if n not in after)}


def verification(root: Any, proposal: Proposal) -> Any:
    """python-tuf's VerificationResult of the gathered signatures against ``root``'s targets role."""
    return root.get_verification_result("targets", proposal.targets.signed_bytes, proposal.targets.signatures)


def check_same_channel(p: Proposal, channel: Channel) -> None:
    channel.require()
    if p.doc.get("channel_id") != channel.channel_id():
        raise ConfigError(f"The proposal {p.dir} was made for another channel (id {str(p.doc.get('channel_id'))[:12]}…, "
                          f"this one is {channel.channel_id()[:12]}…).",
                          hint="Publish it to the channel it was proposed for, or propose the release here.")


def check_not_stale(p: Proposal, channel: Channel) -> None:
    current = channel.targets_version()
    base = p.doc.get("base_targets_version")
    if base != current or p.targets.signed.version != current + 1:
        raise ConfigError(f"The proposal {p.dir} is stale: it was staged on targets version {base}, but the channel "
                          f"is at version {current} now (another release was published since).",
                          hint="Propose the release again against the current channel and gather the approvals again.")
