"""The admin side of a signed channel: every byte `upgrade` and `status` read is verified by python-tuf's ngclient.

A signed channel is a TUF repository (see /work/TRUST-CONTRACT.md)::

    CHANNEL/metadata/1.root.json, 2.root.json ...   root versions (the chain a client walks)
    CHANNEL/metadata/timestamp.json                 online key, short expiry (freeze protection)
    CHANNEL/metadata/N.snapshot.json, N.targets.json
    CHANNEL/targets/<sha256>.<name>                 index.json, artifacts, manifests, deltas, SBOMs

``TrustedChannel`` wraps ``tuf.ngclient.Updater``: root rotation chain, timestamp, snapshot, targets (K of N SIG
member signatures), then each target is downloaded with the length and hashes from the signed targets metadata.
It reads the same file names as the unsigned ``ChannelClient`` (``index()``, ``manifest()``, ``download()``), so
the upgrade code does not care which one it holds.

Trust anchors live per user in ``$MWRELEASE_TRUST_DIR`` or ``$XDG_DATA_HOME/mwrelease/trust/<channel-id>/``
(``~/.local/share/...``; directories 0700, files 0600): ``channel.json`` (locations, anchor digest),
``anchor.root.json`` (the root the admin vouched for with ``mwrelease channel trust``) and ``metadata/`` (the
Updater's state: the newest verified metadata, which is what stops rollbacks across runs). There is no trust on
first use: an unknown channel is refused with the exact ``channel trust`` command to run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from tuf.api import exceptions as tx
from tuf.api.metadata import Metadata
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.updater import Updater

from mwrelease.errors import IntegrityError, MwreleaseError, SourceError, TrustError
from mwrelease.trust.anchors import (NOT_CHANGED, TRUST_FORMAT, Anchor, channel_base, find_anchor, is_signed_channel,
                                     list_anchors, load_anchor, private_dir, trust_dir, untrusted_error, write_private)
from mwrelease.trust.fetcher import ChannelFetcher
from mwrelease.trust.refusals import RELEASE_FIELD, Refusal, cause, member_name, short, utc_date

if TYPE_CHECKING:
    from mwrelease.release.channel import ArtifactRef, ChannelIndex
    from mwrelease.release.manifest import Manifest

ROOT_MAX_BYTES = 512_000  # python-tuf's own bound for root metadata


# --- choosing the reader ---------------------------------------------------------------------------

class ChannelReader(Protocol):
    """What the upgrade side reads from a channel: ``TrustedChannel`` (signed) or ``ChannelClient`` (unsigned)."""

    location: str

    def index(self) -> ChannelIndex: ...

    def manifest(self, name: str, sha256: str) -> Manifest: ...

    def download(self, art: ArtifactRef, dest_dir: Path, *,
                 progress: Callable[[int], None] | None = None) -> Path: ...


UNSIGNED_WARNING = ("WARNING: channel {location} is read WITHOUT signature verification (--allow-unsigned): "
                    "nobody's approval is checked, and whoever controls the channel, a mirror or the network path "
                    "decides what code runs on this wiki.")


def open_channel(location: str, *, allow_unsigned: bool = False, warn: Callable[[str], None] | None = None,
                 store: Path | None = None) -> ChannelReader:
    """The reader for ``location``: a trusted channel always goes through TUF (``--allow-unsigned`` cannot strip
    a known channel's signatures); an untrusted one is refused unless ``allow_unsigned``, and then read unverified
    with a loud warning."""
    anchor = find_anchor(location, store)
    if anchor is not None:
        return TrustedChannel(location, anchor=anchor)
    if not allow_unsigned:
        err = untrusted_error(location)
        if not is_signed_channel(location):
            err = TrustError(f"Channel {location} is not signed (it has no metadata/timestamp.json), so nothing it "
                             "serves was approved by the SIG; mwrelease refuses it.",
                             hint="Ask its maintainers for a signed channel. To install from it anyway, unverified, "
                                  "pass --allow-unsigned. " + NOT_CHANGED)
        raise err
    from mwrelease.release.channel import ChannelClient

    if warn is not None:
        warn(UNSIGNED_WARNING.format(location=location))
    return ChannelClient(location)


def approval_note(reader: ChannelReader, version: str, artifact: str) -> dict[str, Any]:
    """Who approved ``version`` (for the plan): the SIG members whose signatures over the channel's current signed
    release list verified, and the seal verdict signed with the artifact."""
    if not isinstance(reader, TrustedChannel):
        return {"version": version, "signed": False, "approved_by": [],
                "text": f"{version}: UNSIGNED channel, nobody's approval was verified (--allow-unsigned)"}
    a = reader.approvals()
    fields = reader.release_fields(artifact)
    verdict = fields.get("verdict") or "unknown"
    text = f"{version}: {a.render()}; seal verdict {verdict}"
    if fields.get("override_reason"):
        text += f" (seal overridden: {fields['override_reason']})"
    return {"version": version, "signed": True, **a.to_json(), "verdict": verdict,
            "override_reason": fields.get("override_reason"), "text": text}


# --- first contact ---------------------------------------------------------------------------------

def trust_channel(location: str, *, root_file: Path | None = None, root_sha256: str | None = None,
                  store: Path | None = None) -> dict[str, Any]:
    """Record a trust anchor for the channel at ``location`` and verify the channel against it (a full refresh).

    Exactly one of ``root_file`` (a root metadata file from the SIG) and ``root_sha256`` (the digest of the
    channel's 1.root.json, from the SIG's announcement) says what to trust. Nothing is stored unless the channel
    verifies. Trusting a second location (a mirror) of a known channel keeps the metadata already verified, so a
    stale mirror cannot roll it back."""
    if (root_file is None) == (root_sha256 is None):
        raise TrustError("Give exactly one of --root FILE and --root-sha256 HEX to say which channel you trust.")
    base = channel_base(location)
    store = store or trust_dir()
    fetcher = ChannelFetcher()
    if root_file is not None:
        try:
            data = root_file.read_bytes()
        except OSError as exc:
            raise TrustError(f"Cannot read the root metadata file {root_file}: {exc.strerror}.") from None
        how = f"root file {root_file}"
    else:
        assert root_sha256 is not None
        want = root_sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", want):
            raise TrustError(f"--root-sha256 {root_sha256!r} is not a sha256 digest (64 hexadecimal digits).")
        data = _fetch_bytes(fetcher, base + "metadata/1.root.json", location)
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise TrustError(f"The 1.root.json served by {location} has sha256 {got}, not the {want} you were "
                             "given: this is not the channel the SIG announced (or it was tampered with), so it is "
                             "not trusted.", hint="Check the digest and the URL against the SIG's announcement.")
        how = f"sha256 {want} of 1.root.json"
    root = _parse_root(data, how)
    first = data if root.signed.version == 1 else _try_fetch(fetcher, base + "metadata/1.root.json") or data
    channel_id = hashlib.sha256(first).hexdigest()
    private_dir(store)
    final = store / channel_id
    existing = load_anchor(final)
    if existing is not None:
        # A known channel at one more location: verify that location against the state we already hold.
        anchor = existing
        work = final
    else:
        work = Path(tempfile.mkdtemp(dir=store, prefix=".new-"))
        os.chmod(work, 0o700)
        write_private(work / "anchor.root.json", data)
        anchor = Anchor(channel_id=channel_id, directory=work, locations=(base,), root_version=root.signed.version,
                        root_sha256=hashlib.sha256(data).hexdigest())
    try:
        ch = TrustedChannel(location, anchor=anchor)
        ch.refresh()
        summary = ch.summary()
        locations = tuple(dict.fromkeys(anchor.locations + (base,)))
        meta = {"format": TRUST_FORMAT, "channel_id": channel_id, "locations": list(locations),
                "anchor": {"version": anchor.root_version, "sha256": anchor.root_sha256, "from": how},
                "trusted_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        write_private(work / "channel.json", (json.dumps(meta, indent=2) + "\n").encode())
        if work != final:
            os.replace(work, final)
    except BaseException:
        if work != final:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return {"channel_id": channel_id, "location": location, "store": str(final), **summary}


def _parse_root(data: bytes, how: str) -> Any:
    try:
        md: Any = Metadata.from_bytes(data)
        if md.signed.type != "root":
            raise TrustError(f"The {how} is {md.signed.type} metadata, not root metadata.")
        md.signed.verify_delegate("root", md.signed_bytes, md.signatures)
    except tx.UnsignedMetadataError as exc:
        raise TrustError(f"The {how} is not signed by its own root threshold ({exc}), so it cannot anchor trust.") from None
    except (tx.RepositoryError, ValueError) as exc:
        raise TrustError(f"The {how} is not valid TUF root metadata ({short(exc)}).") from None
    return md


def _fetch_bytes(fetcher: Any, url: str, location: str) -> bytes:
    try:
        return bytes(fetcher.download_bytes(url, ROOT_MAX_BYTES))
    except tx.DownloadHTTPError as exc:
        raise TrustError(f"Channel {location} has no {url.rsplit('/', 1)[-1]} ({exc}): it is not a signed channel, "
                         "or the URL is wrong.") from None
    except tx.DownloadError as exc:
        raise SourceError(f"Cannot read {url}: {cause(exc)}.", hint="Check the network and the channel URL.") from None


def _try_fetch(fetcher: Any, url: str) -> bytes | None:
    try:
        return _fetch_bytes(fetcher, url, url)
    except MwreleaseError:
        return None


# --- the verified channel --------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Approvals:
    """Who vouched for what the channel serves now: the SIG members whose signatures over the current targets
    metadata verify (a release ships only in a targets version that K members signed)."""

    targets_version: int
    threshold: int
    members: tuple[str, ...]  # every current SIG member
    approved_by: tuple[str, ...]  # members whose signature verifies

    def render(self) -> str:
        return (f"approved by {', '.join(self.approved_by) or 'nobody'} ({len(self.approved_by)} of "
                f"{len(self.members)} SIG members, {self.threshold} required; targets metadata v{self.targets_version})")

    def to_json(self) -> dict[str, Any]:
        return {"targets_version": self.targets_version, "threshold": self.threshold, "members": list(self.members),
                "approved_by": list(self.approved_by)}


class TrustedChannel:
    """A signed channel read through ``tuf.ngclient.Updater``. Same reading interface as ``ChannelClient``."""

    signed = True

    def __init__(self, location: str, *, store: Path | None = None, anchor: Anchor | None = None,
                 timeout: int = 30) -> None:
        self.location = location
        self.base = channel_base(location)
        self.anchor = anchor or find_anchor(location, store)
        if self.anchor is None:
            raise untrusted_error(location)
        self.fetcher = ChannelFetcher(timeout=timeout)
        self.refusal = Refusal(location, self.anchor, self.fetcher)
        self._updater: Any = None
        self._refreshed = False

    # -- TUF ------------------------------------------------------------------------------------------
    def _make_updater(self) -> Any:
        assert self.anchor is not None
        private_dir(self.anchor.metadata_dir)
        try:
            bootstrap = self.anchor.anchor_file.read_bytes()
        except OSError as exc:
            raise TrustError(f"The trust anchor of channel {self.location} ({self.anchor.anchor_file}) cannot be "
                             f"read: {exc.strerror}.", hint="Run `mwrelease channel trust` for it again.") from None
        if hashlib.sha256(bootstrap).hexdigest() != self.anchor.root_sha256:
            raise TrustError(f"The trust anchor {self.anchor.anchor_file} of channel {self.location} was changed "
                             "since `mwrelease channel trust` stored it; refusing to use it.",
                             hint="Remove its directory and run `mwrelease channel trust` again.")
        try:
            up = Updater(metadata_dir=str(self.anchor.metadata_dir), metadata_base_url=self.base + "metadata/",
                         target_base_url=self.base + "targets/", fetcher=self.fetcher,
                         config=UpdaterConfig(prefix_targets_with_hash=True,
                                              app_user_agent="mwrelease"), bootstrap=bootstrap)
        except Exception as exc:  # python-tuf raises RepositoryError/ValueError for a bad anchor
            raise self.refusal.explain(exc, "the trust anchor") from None
        rh = self.anchor.metadata_dir / "root_history"
        if rh.is_dir():
            os.chmod(rh, 0o700)
        return up

    def refresh(self) -> None:
        if self._refreshed:
            return
        if self._updater is None:
            self._updater = self._make_updater()
        try:
            self._updater.refresh()
        except Exception as exc:
            raise self.refusal.explain(exc, "metadata") from None
        self._refreshed = True

    def targetinfo(self, name: str) -> Any:
        self.refresh()
        try:
            info = self._updater.get_targetinfo(name)
        except Exception as exc:
            raise self.refusal.explain(exc, "metadata") from None
        if info is None:
            raise TrustError(f"The signed metadata of channel {self.location} does not list {name}: the SIG did not "
                             "approve it, so it is not used.", hint=NOT_CHANGED)
        return info

    def _download_to(self, info: Any, dest: Path) -> Path:
        try:
            self._updater.download_target(info, filepath=str(dest))
        except Exception as exc:
            dest.unlink(missing_ok=True)
            raise self.refusal.explain(exc, "target", target=info) from None
        return dest

    # -- the ChannelClient interface ------------------------------------------------------------------
    def read_bytes(self, name: str, limit: int = 64 << 20) -> bytes:
        info = self.targetinfo(name)
        if info.length > limit:
            raise TrustError(f"{name} is signed as {info.length} bytes, more than the {limit} mwrelease reads for it.")
        with tempfile.TemporaryDirectory(prefix="mwrelease-tuf-") as tmp:
            return self._download_to(info, Path(tmp) / "target").read_bytes()

    def index(self) -> ChannelIndex:
        from mwrelease.release.channel import INDEX_NAME, ChannelIndex  # noqa: F811 (lazy: a cycle otherwise)

        raw = self.read_bytes(INDEX_NAME)
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrustError(f"The index of channel {self.location} is signed but not valid JSON ({exc}).") from None
        return ChannelIndex.from_json(data, origin=f"{self.location}/{INDEX_NAME}")

    def manifest(self, name: str, sha256: str) -> Manifest:
        from mwrelease.release.manifest import Manifest  # noqa: F811

        info = self.targetinfo(name)
        self._agree(name, info, sha256, None)
        raw = self.read_bytes(name)
        try:
            return Manifest.from_json(json.loads(raw), origin=name)
        except json.JSONDecodeError as exc:
            raise IntegrityError(f"Manifest {name} is not valid JSON ({exc}).") from None

    def download(self, art: ArtifactRef, dest_dir: Path, *, progress: Callable[[int], None] | None = None) -> Path:
        """The artifact ``art`` (an index entry) into dest_dir, verified against the signed targets metadata; an
        artifact already there is used again if it still verifies."""
        info = self.targetinfo(art.file)
        self._agree(art.file, info, art.sha256, art.size)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / art.file
        if not self._updater.find_cached_target(info, str(dest)):
            part = dest.with_name(dest.name + ".part")
            self._download_to(info, part)
            part.replace(dest)
        if progress:
            progress(int(info.length))
        return dest

    def _agree(self, name: str, info: Any, sha256: str, size: int | None) -> None:
        signed = info.hashes.get("sha256")
        if signed != sha256 or (size is not None and size != info.length):
            raise TrustError(f"The channel's index says {name} has sha256 {sha256}, but the SIG signed sha256 "
                             f"{signed} ({info.length} bytes): the channel disagrees with what was approved, so "
                             "nothing from it is used.", hint=NOT_CHANGED)

    # -- who approved ---------------------------------------------------------------------------------
    def _trusted(self, role: str) -> Any:
        assert self.anchor is not None
        self.refresh()
        return Metadata.from_bytes((self.anchor.metadata_dir / f"{role}.json").read_bytes())

    def approvals(self) -> Approvals:
        root, targets = self._trusted("root"), self._trusted("targets")
        res = root.signed.get_verification_result("targets", targets.signed_bytes, targets.signatures)
        role = root.signed.get_delegated_role("targets")
        names = {k: member_name(root.signed, k) for k in role.keyids}
        return Approvals(targets_version=targets.signed.version, threshold=role.threshold,
                         members=tuple(sorted(names.values())),
                         approved_by=tuple(sorted(names[k] for k in res.signed)))

    def release_fields(self, name: str) -> dict[str, Any]:
        """The custom fields the SIG signed for an artifact (version, verdict, seal digest ...)."""
        custom = self.targetinfo(name).custom
        out = custom.get(RELEASE_FIELD) if isinstance(custom, dict) else None
        return dict(out) if isinstance(out, dict) else {}

    def summary(self) -> dict[str, Any]:
        root, ts = self._trusted("root"), self._trusted("timestamp")
        a = self.approvals()
        rr = root.signed.get_delegated_role("root")
        return {"root_version": root.signed.version, "root_threshold": rr.threshold,
                "root_keys": [member_name(root.signed, k) for k in rr.keyids],
                "members": list(a.members), "approval_threshold": a.threshold,
                "targets_version": a.targets_version, "approved_by": list(a.approved_by),
                "expires": {"root": utc_date(root.signed.expires), "timestamp": utc_date(ts.signed.expires)}}



__all__ = ["TrustedChannel", "ChannelReader", "open_channel", "approval_note", "UNSIGNED_WARNING", "Approvals",
           "Anchor", "trust_channel", "find_anchor", "list_anchors", "trust_dir", "channel_base", "is_signed_channel",
           "untrusted_error", "member_name"]
