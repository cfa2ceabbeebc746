"""The SIG's side of a signed channel: TUF roles over a channel directory (python-tuf's Metadata API).

Layout (see /work/TRUST-CONTRACT.md; consistent_snapshot = true)::

    CHANNEL/metadata/N.root.json        every root version; root.json = a copy of the newest
    CHANNEL/metadata/N.targets.json     the releases: K signatures of current SIG members
    CHANNEL/metadata/N.snapshot.json    online key
    CHANNEL/metadata/timestamp.json     online key; written LAST (atomic rename)
    CHANNEL/targets/<sha256>.<name>     index.json, artifacts, manifests, deltas, SBOMs, seal envelopes
    CHANNEL/proposals/<name>/           staged releases waiting for approval (default place)

Roles: root = the chairs' offline keys (threshold R); top-level targets = the members' keys (threshold K);
snapshot and timestamp = one online key. A membership change is a new root version, signed by R chairs of
the old root and R of the new one (TUF's rule for root rotation, checked by python-tuf). Expiry periods live
in the signed root (``x-mwrelease-expiry``), so the chairs set them.

A proposal is a directory: ``proposal.json`` (channel id, base targets version, release summary),
``targets.json`` (the staged next targets metadata, no signatures), ``root.json`` (the root it was staged
against, so members can check membership offline), ``files/`` (new target files) and
``signatures/<keyid>.json`` (one TUF signature each: small files that travel by mail or pull request).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from mwrelease.errors import ChecksFailed, ConfigError, IntegrityError, NothingToDo
from mwrelease.trust.keys import NAME_FIELD, key_name, refuse_inside_channel

PROPOSAL_FORMAT = "mwrelease.proposal/1"
EXPIRY_FIELD = "x-mwrelease-expiry"
DEFAULT_EXPIRY = {"root": 365 * 86400, "targets": 365 * 86400, "snapshot": 7 * 86400, "timestamp": 86400}
ONLINE_ROLES = ("snapshot", "timestamp")
INDEX_TARGET = "index.json"
CUSTOM_KEY = "mwrelease"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _day(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def parse_duration(text: str) -> int:
    """Seconds of '1d', '12h', '7d', '1y', '90m' or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            value = int(t[:-1]) * units[t[-1]]
        else:
            value = int(t)
    except ValueError:
        raise ConfigError(f"{text!r} is not a duration.", hint="Write e.g. 1d, 12h, 7d or 1y.") from None
    if value <= 0:
        raise ConfigError(f"Duration {text!r} must be positive.")
    return value


# --- reading a channel -----------------------------------------------------------------------------

class Channel:
    """A TUF channel directory on the repository side (the files, not a client's view of them)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.meta = directory / "metadata"
        self.targets_dir = directory / "targets"

    def exists(self) -> bool:
        return (self.meta / "1.root.json").is_file()

    def require(self) -> None:
        if not self.exists():
            raise ConfigError(f"{self.dir} is not a signed channel (no metadata/1.root.json).",
                              hint="Create one with `mwrelease sig init --channel DIR ...`.")

    def channel_id(self) -> str:
        self.require()
        return hashlib.sha256((self.meta / "1.root.json").read_bytes()).hexdigest()

    def _load(self, name: str) -> Any:
        from tuf.api.metadata import Metadata

        path = self.meta / name
        try:
            return Metadata.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise IntegrityError(f"The channel {self.dir} lacks metadata/{name}; it is incomplete.",
                                 hint="Restore the channel directory from its backup.") from None
        except Exception as exc:  # python-tuf raises DeserializationError (and ValueError) for damaged files
            raise IntegrityError(f"The channel's metadata/{name} is damaged: {exc}.",
                                 hint="Restore the channel directory from its backup.") from None

    def root_version(self) -> int:
        self.require()
        n = 1
        while (self.meta / f"{n + 1}.root.json").is_file():
            n += 1
        return n

    def root(self, version: int | None = None) -> Any:
        return self._load(f"{version or self.root_version()}.root.json")

    def timestamp(self) -> Any | None:
        return self._load("timestamp.json") if (self.meta / "timestamp.json").is_file() else None

    def snapshot(self) -> Any | None:
        ts = self.timestamp()
        if ts is None:
            return None
        return self._load(f"{ts.signed.snapshot_meta.version}.snapshot.json")

    def targets_version(self) -> int:
        snap = self.snapshot()
        return 0 if snap is None else int(snap.signed.meta["targets.json"].version)

    def targets(self) -> Any | None:
        v = self.targets_version()
        return self._load(f"{v}.targets.json") if v else None

    def target_path(self, name: str, sha256: str) -> Path:
        return self.targets_dir / f"{sha256}.{name}"

    def read_target(self, targets: Any, name: str) -> bytes:
        tf = targets.signed.targets[name]
        data = self.target_path(name, tf.hashes["sha256"]).read_bytes()
        tf.verify_length_and_hashes(data)
        return data

    def expiry(self) -> dict[str, int]:
        root = self.root().signed
        got = root.unrecognized_fields.get(EXPIRY_FIELD) or {}
        return {**DEFAULT_EXPIRY, **{k: int(v) for k, v in got.items() if k in DEFAULT_EXPIRY}}


# --- writing -------------------------------------------------------------------------------------

@contextlib.contextmanager
def channel_lock(channel: Channel) -> Iterator[None]:
    """One writer at a time: a cron `refresh` racing a `publish` would both write snapshot N+1."""
    import fcntl

    with open(channel.dir / ".mwrelease.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a channel is served to everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _md_bytes(md: Any) -> bytes:
    from tuf.api.serialization.json import JSONSerializer

    data: bytes = md.to_bytes(JSONSerializer(compact=False))
    return data + b"\n"


def _write_root(channel: Channel, md: Any) -> None:
    data = _md_bytes(md)
    # N.root.json first (clients walk the chain from it), then the convenience copy.
    _write_atomic(channel.meta / f"{md.signed.version}.root.json", data)
    _write_atomic(channel.meta / "root.json", data)


@dataclass(frozen=True, kw_only=True)
class RootSpec:
    """What `sig init` is asked to create."""

    root_keys: tuple[Any, ...]
    root_threshold: int
    members: tuple[Any, ...]
    threshold: int
    online_key: Any
    expiry: dict[str, int]


def _check_threshold(what: str, threshold: int, keys: int) -> None:
    if not 1 <= threshold <= keys:
        raise ConfigError(f"The {what} threshold {threshold} cannot be met with {keys} key(s).",
                          hint=f"Give a threshold between 1 and {keys}, or more keys.")


def _sign_root(md: Any, signers: Iterable[Any], previous: Any | None) -> None:
    """Sign a new root with the chairs' keys and check it with python-tuf's own root verification."""
    signers = list(signers)
    allowed = set(md.signed.roles["root"].keyids) | (set(previous.roles["root"].keyids) if previous else set())
    for s in signers:
        if s.public_key.keyid not in allowed:
            raise ConfigError(f"Key {key_name(s.public_key)} ({s.public_key.keyid[:12]}…) is not a root key (chair) "
                              f"of {'the old or the new root' if previous else 'this root'}; it cannot sign it.",
                              hint="Sign with the chairs' private keys (--sign-root CHAIR.key, repeatable).")
        md.sign(s, append=True)
    result = md.signed.get_root_verification_result(previous, md.signed_bytes, md.signatures)
    if not result.verified:
        parts = [f"the new root has {len(result.second.signed)} of {result.second.threshold} chair signatures"]
        if previous is not None:
            parts.insert(0, f"the current root (v{previous.version}) has {len(result.first.signed)} of "
                            f"{result.first.threshold}")
        raise IntegrityError(f"Root version {md.signed.version} is not signed by enough chairs: {'; '.join(parts)}. "
                             "Nothing was written.",
                             hint="Pass more chairs' keys with --sign-root (a root change needs the threshold of "
                                  "the old root and of the new one).")


def init(channel_dir: Path, spec: RootSpec, signers: list[Any]) -> Any:
    """Create root version 1 of a new channel. Returns the root Metadata."""
    channel_dir.mkdir(parents=True, exist_ok=True)
    with channel_lock(Channel(channel_dir)):
        return _init(channel_dir, spec, signers)


def _init(channel_dir: Path, spec: RootSpec, signers: list[Any]) -> Any:
    from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined]

    channel = Channel(channel_dir)
    if channel.exists():
        raise ConfigError(f"{channel_dir} is already a signed channel (root version {channel.root_version()}).",
                          hint="Change it with `mwrelease sig members add|remove`, `sig chairs`, `sig rotate-online`.")
    _check_threshold("root", spec.root_threshold, len({k.keyid for k in spec.root_keys}))
    _check_threshold("approval", spec.threshold, len({k.keyid for k in spec.members}))
    root = Root(version=1, expires=now() + dt.timedelta(seconds=spec.expiry["root"]), consistent_snapshot=True,
                unrecognized_fields={EXPIRY_FIELD: dict(spec.expiry)})
    for k in spec.root_keys:
        root.add_key(k, "root")
    for k in spec.members:
        root.add_key(k, "targets")
    for role in ONLINE_ROLES:
        root.add_key(spec.online_key, role)
    root.roles["root"].threshold = spec.root_threshold
    root.roles["targets"].threshold = spec.threshold
    md = Metadata(root)
    _sign_root(md, signers, None)
    channel.dir.mkdir(parents=True, exist_ok=True)
    _write_root(channel, md)
    return md


@dataclass(frozen=True, kw_only=True)
class RootChange:
    """One change to the SIG (a new root version). Empty fields change nothing."""

    add_members: tuple[Any, ...] = ()
    remove_members: tuple[str, ...] = ()     # names, keyids or keyid prefixes
    threshold: int | None = None
    add_chairs: tuple[Any, ...] = ()
    remove_chairs: tuple[str, ...] = ()
    root_threshold: int | None = None
    online_key: Any | None = None
    expiry: dict[str, int] | None = None

    def describe(self) -> list[str]:
        out = [f"member {key_name(k)} added" for k in self.add_members]
        out += [f"member {r} removed" for r in self.remove_members]
        out += [f"chair {key_name(k)} added" for k in self.add_chairs]
        out += [f"chair {r} removed" for r in self.remove_chairs]
        if self.threshold is not None:
            out.append(f"approval threshold {self.threshold}")
        if self.root_threshold is not None:
            out.append(f"root threshold {self.root_threshold}")
        if self.online_key is not None:
            out.append(f"online key {key_name(self.online_key)} ({self.online_key.keyid[:12]}…)")
        if self.expiry:
            out.append("expiry " + ", ".join(f"{k} {v}s" for k, v in self.expiry.items()))
        return out or ["expiry renewed"]


def _find_key(root: Any, role: str, ref: str) -> str:
    hits = [kid for kid in root.roles[role].keyids
            if ref in (kid, root.keys[kid].unrecognized_fields.get(NAME_FIELD)) or (len(ref) >= 8 and kid.startswith(ref))]
    if len(hits) != 1:
        who = "member" if role == "targets" else "chair"
        names = ", ".join(key_name(root.keys[k]) for k in root.roles[role].keyids)
        raise ConfigError(f"{ref!r} names {'no' if not hits else 'more than one'} current {who}.",
                          hint=f"Current {who}s: {names}. Name one by its name, keyid or .pub file.")
    return str(hits[0])


def change_root(channel_dir: Path, change: RootChange, signers: list[Any]) -> tuple[Any, list[str]]:
    """Write root version N+1 with ``change``, signed by the old and the new root threshold.

    Returns (new root Metadata, warnings)."""
    Channel(channel_dir).require()
    with channel_lock(Channel(channel_dir)):
        return _change_root(channel_dir, change, signers)


def _change_root(channel_dir: Path, change: RootChange, signers: list[Any]) -> tuple[Any, list[str]]:
    from tuf.api.metadata import Metadata

    channel = Channel(channel_dir)
    channel.require()
    current = channel.root()
    md = Metadata.from_bytes(current.to_bytes())
    md.signatures.clear()
    root = md.signed
    root.version += 1
    for k in change.add_members:
        if k.keyid in root.roles["targets"].keyids:
            raise NothingToDo(f"{key_name(k)} ({k.keyid[:12]}…) is already a member.")
        root.add_key(k, "targets")
    for ref in change.remove_members:
        root.revoke_key(_find_key(root, "targets", ref), "targets")
    for k in change.add_chairs:
        if k.keyid in root.roles["root"].keyids:
            raise NothingToDo(f"{key_name(k)} ({k.keyid[:12]}…) is already a chair.")
        root.add_key(k, "root")
    for ref in change.remove_chairs:
        root.revoke_key(_find_key(root, "root", ref), "root")
    if change.online_key is not None:
        for role in ONLINE_ROLES:
            for kid in list(root.roles[role].keyids):
                root.revoke_key(kid, role)
            root.add_key(change.online_key, role)
    if change.threshold is not None:
        root.roles["targets"].threshold = change.threshold
    if change.root_threshold is not None:
        root.roles["root"].threshold = change.root_threshold
    expiry = {**channel.expiry(), **(change.expiry or {})}
    root.unrecognized_fields[EXPIRY_FIELD] = expiry
    _check_threshold("approval", root.roles["targets"].threshold, len(root.roles["targets"].keyids))
    _check_threshold("root", root.roles["root"].threshold, len(root.roles["root"].keyids))
    root.expires = now() + dt.timedelta(seconds=expiry["root"])
    _sign_root(md, signers, current.signed)
    warnings: list[str] = []
    targets = channel.targets()
    if targets is not None:
        result = root.get_verification_result("targets", targets.signed_bytes, targets.signatures)
        if not result.verified:
            warnings.append(
                f"the published targets (version {targets.signed.version}) now has {len(result.signed)} of "
                f"{result.threshold} signatures of current members: clients will refuse the channel until members "
                "approve a new targets version (`mwrelease release propose --channel DIR` with no release re-stages "
                "the current one)")
    if change.online_key is not None:
        warnings.append("snapshot and timestamp are still signed by the old online key: run `mwrelease channel "
                        "refresh --channel DIR --online-key NEW.key` now")
    _write_root(channel, md)
    return md, warnings


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
    snap_bytes = _md_bytes(snap)
    _write_atomic(channel.meta / f"{snap_version}.snapshot.json", snap_bytes)
    ts = Metadata(Timestamp(version=ts_version, expires=now() + dt.timedelta(seconds=expiry["timestamp"]),
                            snapshot_meta=MetaFile(version=snap_version, length=len(snap_bytes),
                                                   hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()})))
    ts.sign(online)
    _write_atomic(channel.meta / "timestamp.json", _md_bytes(ts))
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


# --- proposals -----------------------------------------------------------------------------------

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


def _previous_release(channel: Channel, targets: Any | None, line: str, version: str) -> dict[str, Any] | None:
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


def _changes(old: Any | None, new: Any) -> list[dict[str, Any]]:
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
    from mwrelease.release.manifest import Manifest
    from mwrelease.runner.plan import lock_digest
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
                shutil.copyfile(seal, stage / f"{stem}.seal.dsse.json")
            lock_sha = lock_digest(lk) if lk else (
                (seal_info.statement.get("subject") or [{}])[0].get("digest", {}).get("sha256") if seal_info else None)
            custom = {"version": manifest.core_version, "line": manifest.core_line, "core_version": manifest.core_version,
                      "bundle": manifest.bundle, "lock_sha256": lock_sha,
                      "seal_sha256": seal_info.sha256 if seal_info else None,
                      "seal_signer": seal_info.signer if seal_info else None,
                      "verdict": seal_info.verdict if seal_info else "unsealed"}
            if override_reason:
                custom["override_reason"] = override_reason
            prev = _previous_release(channel, base, manifest.core_line, manifest.core_version)
            summary = {**custom, "artifact": full.name, "deltas": [d.name for d in deltas],
                       "components": [c.to_json() for c in manifest.components],
                       "previous": prev["version"] if prev else None,
                       "changes": _changes(prev["manifest"] if prev else None, manifest)}
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
            raise ConfigError(f"{out} already exists and is not empty.", hint="Pass another -o directory, or remove it.")
        out.mkdir(parents=True, exist_ok=True)
        (out / "signatures").mkdir(exist_ok=True)
        shutil.copytree(stage, out / "files", dirs_exist_ok=True)
    (out / "targets.json").write_bytes(_md_bytes(proposal))
    (out / "root.json").write_bytes(_md_bytes(root))
    if base is not None:
        (out / "base-targets.json").write_bytes(_md_bytes(base))
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


def approve(proposal_dir: Path, signer: Any, *, override_reason: str | None = None,
            channel_dir: Path | None = None) -> Path:
    """Write signatures/<keyid>.json: the member's TUF signature over the staged targets."""
    from mwrelease.trust.dsse import APPROVAL_PREDICATE, STATEMENT_TYPE, sign_statement, write_envelope

    p = load_proposal(proposal_dir)
    root = p.root.signed
    if channel_dir is not None:
        channel = Channel(channel_dir)
        _check_same_channel(p, channel)
        _check_not_stale(p, channel)
        root = channel.root().signed
    kid = signer.public_key.keyid
    if kid not in root.roles["targets"].keyids:
        raise ConfigError(f"Key {key_name(signer.public_key)} ({kid[:12]}…) is not a current SIG member "
                          f"(root version {root.version}); its approval would not count.",
                          hint="Members: " + ", ".join(key_name(root.keys[k]) for k in root.roles["targets"].keyids)
                          + ". A new member is added by the chairs with `mwrelease sig members add`.")
    custom = p.artifact_custom()
    verdict = custom.get("verdict")
    if p.release is not None and verdict != "sealed" and not override_reason:
        raise ChecksFailed(f"The release {custom.get('version')} is not sealed (seal verdict: {verdict}); approving it "
                           "is refused.", hint="Review it with `mwrelease release review`. To approve anyway, pass "
                           "--override-seal REASON (the reason is recorded beside your signature).")
    sig = p.targets.sign(signer, append=True)
    out = p.dir / "signatures" / f"{kid}.json"
    _write_atomic(out, (json.dumps(sig.to_dict(), indent=1) + "\n").encode())
    # The approval note: what this member approved and why, signed (DSSE) so it cannot be edited later.
    note = {"_type": STATEMENT_TYPE,
            "subject": [{"name": f"{p.targets.signed.version}.targets.json",
                         "digest": {"sha256": hashlib.sha256(p.targets.signed_bytes).hexdigest()}}],
            "predicateType": APPROVAL_PREDICATE,
            "predicate": {"member": key_name(signer.public_key), "version": custom.get("version"),
                          "verdict": verdict, "override_reason": override_reason, "approved": now().isoformat()}}
    write_envelope(p.dir / "signatures" / f"{kid}.approval.json", sign_statement(note, signer))
    return out


def _check_same_channel(p: Proposal, channel: Channel) -> None:
    channel.require()
    if p.doc.get("channel_id") != channel.channel_id():
        raise ConfigError(f"The proposal {p.dir} was made for another channel (id {str(p.doc.get('channel_id'))[:12]}…, "
                          f"this one is {channel.channel_id()[:12]}…).",
                          hint="Publish it to the channel it was proposed for, or propose the release here.")


def _check_not_stale(p: Proposal, channel: Channel) -> None:
    current = channel.targets_version()
    base = p.doc.get("base_targets_version")
    if base != current or p.targets.signed.version != current + 1:
        raise ConfigError(f"The proposal {p.dir} is stale: it was staged on targets version {base}, but the channel "
                          f"is at version {current} now (another release was published since).",
                          hint="Propose the release again against the current channel and gather the approvals again.")


def publish(proposal_dir: Path, channel_dir: Path, online: Any) -> dict[str, Any]:
    """Publish an approved proposal: targets files, N.targets.json, snapshot, then timestamp (last)."""
    Channel(channel_dir).require()
    with channel_lock(Channel(channel_dir)):
        return _publish(proposal_dir, channel_dir, online)


def _publish(proposal_dir: Path, channel_dir: Path, online: Any) -> dict[str, Any]:
    from tuf.api.exceptions import UnsignedMetadataError

    p = load_proposal(proposal_dir)
    channel = Channel(channel_dir)
    _check_same_channel(p, channel)
    _check_not_stale(p, channel)
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
                             hint="Members approve with `mwrelease release approve PROPOSAL --key KEY` and send "
                                  "signatures/<keyid>.json back into the proposal's signatures/ directory.") from None
    # 1. target files (content-addressed: writing them early can confuse no client)
    for name in os.listdir(p.dir / "files"):
        tf = p.targets.signed.targets[name]
        dest = channel.target_path(name, tf.hashes["sha256"])
        if not dest.exists():
            _write_atomic(dest, (p.dir / "files" / name).read_bytes())
    # 2. N.targets.json, 3. snapshot, 4. timestamp: a client never sees a snapshot naming a missing targets.
    targets_bytes = _md_bytes(p.targets)
    version = p.targets.signed.version
    _write_atomic(channel.meta / f"{version}.targets.json", targets_bytes)
    sv, tsv = _write_snapshot_and_timestamp(channel, version, targets_bytes, online)
    approvers = [key_name(k) for k in result.signed.values()]
    # The members' approval notes (DSSE, signed by each member; override reasons) go public beside the
    # metadata: not TUF targets (they come after the signed bytes), but each verifiable on its own.
    for kid in result.signed:
        note = p.dir / "signatures" / f"{kid}.approval.json"
        if note.is_file():
            _write_atomic(channel.dir / "approvals" / str(version) / note.name, note.read_bytes())
    record = {"published": now().isoformat(), "targets_version": version, "approved_by": approvers}
    (p.dir / "published.json").write_text(json.dumps(record, indent=1) + "\n")
    return {"release": p.release, "targets_version": version, "snapshot_version": sv, "timestamp_version": tsv,
            "approved_by": approvers}


# --- status and show -------------------------------------------------------------------------------

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
