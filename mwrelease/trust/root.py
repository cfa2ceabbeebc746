"""Changes to the SIG: each is a new root version of the channel (`sig init`, `sig members`, `sig chairs`,
`sig rotate-online`, `sig renew`).

Roles: root = the chairs' offline keys (threshold R); top-level targets = the members' keys (threshold K);
snapshot and timestamp = one online key. A membership change is a new root version, signed by R chairs of
the old root and R of the new one (TUF's rule for root rotation, checked by python-tuf). Expiry periods live
in the signed root (``x-mwrelease-expiry``), so the chairs set them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mwrelease.errors import ConfigError, IntegrityError, NothingToDo
from mwrelease.trust.keys import NAME_FIELD, key_name
from mwrelease.trust.layout import EXPIRY_FIELD, ONLINE_ROLES, Channel, channel_lock, md_bytes, now, write_atomic


def _write_root(channel: Channel, md: Any) -> None:
    data = md_bytes(md)
    # N.root.json first (clients walk the chain from it), then the convenience copy.
    write_atomic(channel.meta / f"{md.signed.version}.root.json", data)
    write_atomic(channel.meta / "root.json", data)


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


def sign_root(md: Any, signers: Iterable[Any], previous: Any | None) -> None:
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
    sign_root(md, signers, None)
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
        channel = Channel(channel_dir)
        md = next_root(channel, change)
        sign_root(md, signers, channel.root().signed)
        return md, install_root(channel, md, online_changed=change.online_key is not None)


def next_root(channel: Channel, change: RootChange) -> Any:
    """Root version N+1 of ``channel`` with ``change`` applied, not signed yet (also what `--stage` writes)."""
    from tuf.api.metadata import Metadata

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
    return md


def install_root(channel: Channel, md: Any, *, online_changed: bool) -> list[str]:
    """Write a new root version that passed ``sign_root``'s check (caller holds the channel lock). Returns warnings."""
    warnings: list[str] = []
    targets = channel.targets()
    if targets is not None:
        result = md.signed.get_verification_result("targets", targets.signed_bytes, targets.signatures)
        if not result.verified:
            warnings.append(
                f"the published targets (version {targets.signed.version}) now has {len(result.signed)} of "
                f"{result.threshold} signatures of current members: clients will refuse the channel until members "
                "approve a new targets version (`mwrelease release propose --channel DIR` with no release re-stages "
                "the current one)")
    if online_changed:
        warnings.append("snapshot and timestamp are still signed by the old online key: run `mwrelease channel "
                        "refresh --channel DIR --online-key NEW.key` now")
    _write_root(channel, md)
    return warnings
