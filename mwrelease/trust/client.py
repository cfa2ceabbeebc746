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
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from tuf.api import exceptions as tx
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import Metadata
from tuf.api.serialization import DeserializationError
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from mwrelease.errors import IntegrityError, MwreleaseError, SourceError, TrustError

if TYPE_CHECKING:
    from mwrelease.release.channel import ArtifactRef, ChannelIndex
    from mwrelease.release.manifest import Manifest

TRUST_FORMAT = "mwrelease.trust/1"
ROOT_MAX_BYTES = 512_000  # python-tuf's own bound for root metadata
NAME_FIELD = "x-mwrelease-name"
RELEASE_FIELD = "mwrelease"
NOT_CHANGED = "Nothing on the wiki was changed."


# --- where things are ------------------------------------------------------------------------------

def trust_dir() -> Path:
    """The per-user trust-anchor store."""
    if os.environ.get("MWRELEASE_TRUST_DIR"):
        return Path(os.environ["MWRELEASE_TRUST_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mwrelease" / "trust"


def channel_base(location: str) -> str:
    """The channel's base URL with a trailing slash: a directory becomes a file:// URL of its absolute path."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https", "file"):
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise TrustError(f"Channel {location}: a file:// URL names a file on this computer, not on {parsed.netloc}.")
        return location.rstrip("/") + "/"
    if parsed.scheme and len(parsed.scheme) > 1:
        raise TrustError(f"Channel {location!r}: scheme {parsed.scheme!r} is not supported; use a directory, a "
                         "file:// URL or an http(s):// URL.")
    return Path(os.path.abspath(location)).as_uri().rstrip("/") + "/"


def is_signed_channel(location: str) -> bool:
    """Cheap test for a local channel: does it have TUF metadata? (A remote one is asked through the client.)"""
    base = channel_base(location)
    if not base.startswith("file:"):
        return True
    return Path(urllib.parse.unquote(urllib.parse.urlparse(base).path), "metadata", "timestamp.json").is_file()


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


# --- the fetcher -----------------------------------------------------------------------------------

class ChannelFetcher(FetcherInterface):
    """A ``tuf.ngclient.FetcherInterface``: file:// URLs are read from disk in chunks (a missing file is a 404, as
    the root chain walk expects); http(s) goes through tuf's own Urllib3Fetcher. The Updater bounds every read by
    the signed length (or its maximum for unsized metadata), so an endless file is cut off, never held whole.

    It also keeps the bytes of the metadata files it served (bounded likewise) so that a refusal can say what the
    channel claimed (the expiry date, the release that lacks approvals)."""

    def __init__(self, *, timeout: int = 30, chunk: int = 1 << 20) -> None:
        from mwrelease import __version__

        self.http = Urllib3Fetcher(socket_timeout=timeout, app_user_agent=f"mwrelease/{__version__}")
        self.chunk = chunk
        self.seen: dict[str, bytes] = {}
        self.last_url = ""

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.last_url = url
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "file":
            path = urllib.parse.unquote(parsed.path)
            try:
                fh = open(path, "rb")
            except FileNotFoundError:
                raise DownloadHTTPError(f"{path} does not exist", 404) from None
            except (IsADirectoryError, PermissionError) as exc:
                raise DownloadHTTPError(f"{path}: {exc.strerror}", 403) from None
            chunks = _file_chunks(fh, self.chunk)
        else:
            chunks = self.http.fetch(url)
        return self._remember(url, chunks) if "/metadata/" in url else chunks

    def _remember(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        got: list[bytes] = []
        size = 0
        try:
            for c in chunks:
                if size < 8 << 20:  # above any metadata bound the Updater allows
                    got.append(c)
                    size += len(c)
                yield c
        finally:
            self.seen[url] = b"".join(got)


def _file_chunks(fh: Any, size: int) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(size):
            yield chunk


# --- the trust-anchor store ------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Anchor:
    channel_id: str
    directory: Path
    locations: tuple[str, ...]
    root_version: int
    root_sha256: str

    @property
    def anchor_file(self) -> Path:
        return self.directory / "anchor.root.json"

    @property
    def metadata_dir(self) -> Path:
        return self.directory / "metadata"


def _load_anchor(d: Path) -> Anchor | None:
    try:
        data = json.loads((d / "channel.json").read_text())
        if data.get("format") != TRUST_FORMAT:
            return None
        return Anchor(channel_id=data["channel_id"], directory=d, locations=tuple(data["locations"]),
                      root_version=int(data["anchor"]["version"]), root_sha256=data["anchor"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_anchor(location: str, store: Path | None = None) -> Anchor | None:
    base = channel_base(location)
    store = store or trust_dir()
    if not store.is_dir():
        return None
    for d in sorted(store.iterdir()):
        a = _load_anchor(d) if d.is_dir() else None
        if a and base in a.locations:
            return a
    return None


def list_anchors(store: Path | None = None) -> list[Anchor]:
    store = store or trust_dir()
    if not store.is_dir():
        return []
    return [a for d in sorted(store.iterdir()) if d.is_dir() and (a := _load_anchor(d))]


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name)  # mkstemp makes 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def untrusted_error(location: str) -> TrustError:
    return TrustError(
        f"Channel {location} is not trusted on this computer yet: run `mwrelease channel trust {location} "
        "--root-sha256 HEX` with the sha256 of its 1.root.json as the SIG announced it (or `--root FILE` with the "
        "root metadata file the SIG gave you), then run this command again.",
        hint="mwrelease never trusts a channel on first use: whoever serves the first download would decide what "
             "runs on the wiki. " + NOT_CHANGED)


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
    _private_dir(store)
    final = store / channel_id
    existing = _load_anchor(final)
    if existing is not None:
        # A known channel at one more location: verify that location against the state we already hold.
        anchor = existing
        work = final
    else:
        work = Path(tempfile.mkdtemp(dir=store, prefix=".new-"))
        os.chmod(work, 0o700)
        _write_private(work / "anchor.root.json", data)
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
        _write_private(work / "channel.json", (json.dumps(meta, indent=2) + "\n").encode())
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
        raise TrustError(f"The {how} is not valid TUF root metadata ({_short(exc)}).") from None
    return md


def _fetch_bytes(fetcher: Any, url: str, location: str) -> bytes:
    try:
        return bytes(fetcher.download_bytes(url, ROOT_MAX_BYTES))
    except DownloadHTTPError as exc:
        raise TrustError(f"Channel {location} has no {url.rsplit('/', 1)[-1]} ({exc}): it is not a signed channel, "
                         "or the URL is wrong.") from None
    except tx.DownloadError as exc:
        raise SourceError(f"Cannot read {url}: {_cause(exc)}.", hint="Check the network and the channel URL.") from None


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
        self._updater: Any = None
        self._refreshed = False

    # -- TUF ------------------------------------------------------------------------------------------
    def _make_updater(self) -> Any:
        assert self.anchor is not None
        _private_dir(self.anchor.metadata_dir)
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
            raise self._explain(exc, "the trust anchor") from None
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
            raise self._explain(exc, "metadata") from None
        self._refreshed = True

    def targetinfo(self, name: str) -> Any:
        self.refresh()
        try:
            info = self._updater.get_targetinfo(name)
        except Exception as exc:
            raise self._explain(exc, "metadata") from None
        if info is None:
            raise TrustError(f"The signed metadata of channel {self.location} does not list {name}: the SIG did not "
                             "approve it, so it is not used.", hint=NOT_CHANGED)
        return info

    def _download_to(self, info: Any, dest: Path) -> Path:
        try:
            self._updater.download_target(info, filepath=str(dest))
        except Exception as exc:
            dest.unlink(missing_ok=True)
            raise self._explain(exc, "target", target=info) from None
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
                "expires": {"root": _date(root.signed.expires), "timestamp": _date(ts.signed.expires)}}

    # -- one sentence per refusal ---------------------------------------------------------------------
    def _explain(self, exc: BaseException, what: str, *, target: Any = None) -> MwreleaseError:
        if isinstance(exc, MwreleaseError):
            return exc
        loc = f"Channel {self.location}"
        if target is not None:
            name = target.path
            if isinstance(exc, tx.DownloadLengthMismatchError):
                return TrustError(f"{loc}: {name} is longer than the {target.length} bytes the SIG signed (endless "
                                  "data or a swapped file); the download was cut off and refused.", hint=NOT_CHANGED)
            if isinstance(exc, tx.LengthOrHashMismatchError):
                return TrustError(f"{loc}: {name} differs from the file the SIG signed (its length or sha256 does not "
                                  "match the signed targets metadata): it was changed after signing, so it is not "
                                  "installed.", hint=NOT_CHANGED)
            if isinstance(exc, tx.DownloadHTTPError):
                return SourceError(f"{loc}: {name} is signed but missing from the channel ({exc}).",
                                   hint="Tell the channel's maintainers; " + NOT_CHANGED)
        msg = str(exc)
        if isinstance(exc, tx.ExpiredMetadataError):
            role = next((r for r in ("root", "timestamp", "snapshot") if r in msg), None) or \
                (m.group(1) if (m := re.search(r"New (\S+) is expired", msg)) else "targets")
            when = self._expiry(role)
            return TrustError(f"{loc}: the channel's {role} metadata expired{' on ' + when if when else ''}: the "
                              "channel is frozen or no longer maintained (or this computer's clock is wrong), so "
                              "nothing from it is installed.",
                              hint="Check the clock, then tell the channel's maintainers. " + NOT_CHANGED)
        if isinstance(exc, tx.UnsignedMetadataError):
            return self._unsigned(loc, msg)
        if isinstance(exc, tx.BadVersionNumberError):
            return self._version(loc, msg)
        if isinstance(exc, tx.LengthOrHashMismatchError):
            return TrustError(f"{loc}: a metadata file does not match the length or hashes its parent metadata "
                              f"signed ({msg}): metadata mixed from different versions or tampered with.",
                              hint=NOT_CHANGED)
        if isinstance(exc, tx.DownloadLengthMismatchError):
            return TrustError(f"{loc}: {self._last_name()} is longer than mwrelease accepts for it ({msg}): endless "
                              "data from the channel or a mirror; the download was cut off and refused.",
                              hint=NOT_CHANGED)
        if isinstance(exc, tx.DownloadHTTPError):
            name = self._last_name()
            if name == "timestamp.json":
                return TrustError(f"{loc} has no signed metadata (metadata/timestamp.json: {msg}): it is not a "
                                  "signed channel, or the URL is wrong.",
                                  hint="Check the URL. An old unsigned channel can only be read with "
                                       "--allow-unsigned, which installs whatever the channel serves. " + NOT_CHANGED)
            return SourceError(f"{loc}: cannot download {name}: {msg}.", hint="Try again later. " + NOT_CHANGED)
        if isinstance(exc, tx.DownloadError):
            return SourceError(f"{loc} cannot be read: {_cause(exc)}.",
                               hint="Check the network and the channel URL, then run the command again. " + NOT_CHANGED)
        if isinstance(exc, tx.RepositoryError):
            if isinstance(exc, DeserializationError) or "Expected '" in msg:
                return TrustError(f"{loc}: the channel's {self._last_name() if what != 'the trust anchor' else what} "
                                  f"is malformed metadata ({_short(exc)}), so nothing from the channel is used.",
                                  hint=NOT_CHANGED)
            return TrustError(f"{loc}: the channel's signed metadata does not verify ({_short(exc)}).", hint=NOT_CHANGED)
        if isinstance(exc, OSError):
            return TrustError(f"Cannot write the trust store of {loc} ({exc}).")
        return TrustError(f"{loc}: verifying the channel failed ({type(exc).__name__}: {_short(exc)}).", hint=NOT_CHANGED)

    def _last_name(self) -> str:
        return urllib.parse.unquote(self.fetcher.last_url.rsplit("/", 1)[-1]) or "a metadata file"

    def _seen(self, role: str) -> Any:
        for url in reversed(list(self.fetcher.seen)):
            fname = url.rsplit("/", 1)[-1]
            if fname == f"{role}.json" or fname.endswith(f".{role}.json"):
                try:
                    return Metadata.from_bytes(self.fetcher.seen[url])
                except Exception:
                    return None
        return None

    def _expiry(self, role: str) -> str | None:
        md = self._seen(role)
        if md is None and self.anchor is not None:
            try:
                md = Metadata.from_bytes((self.anchor.metadata_dir / f"{role}.json").read_bytes())
            except Exception:
                return None
        return _date(md.signed.expires) if md is not None else None

    def _unsigned(self, loc: str, msg: str) -> TrustError:
        m = re.search(r"(\S+) was signed by (\d+)/(\d+) keys", msg)
        role, have, need = (m.group(1), int(m.group(2)), int(m.group(3))) if m else ("metadata", 0, 0)
        if role in ("timestamp", "snapshot"):
            return TrustError(f"{loc}: the channel's {role} metadata is not signed by the channel's online key (bad "
                              "signature): forged or damaged, so nothing from the channel is used.", hint=NOT_CHANGED)
        if role == "root":
            md = self._seen("root")
            v = f" version {md.signed.version}" if md is not None else ""
            return TrustError(f"{loc}: the channel's new root metadata{v} has {have} of {need} required signatures "
                              "of the SIG's current root keys: a forged root rotation (for instance with a root key "
                              "retired earlier), so it is refused.", hint=NOT_CHANGED)
        # targets: the SIG's approvals. Name the release(s) the unapproved targets version would add.
        md = self._seen("targets")
        extra = ""
        what = "the channel's newest release list"
        if md is not None:
            new = self._new_releases(md)
            what = (f"release {', '.join(new)}" if new else "the channel's newest release list") + \
                f" (targets metadata v{md.signed.version})"
            extra = self._foreign_signatures(md)
        return TrustError(f"{loc}: {what} has {have} of {need} required SIG approvals{extra}, so it is not "
                          "installed.", hint="A release ships only when enough SIG members signed it. " + NOT_CHANGED)

    def _version(self, loc: str, msg: str) -> TrustError:
        # python-tuf's wording (tuf 6-7): "New timestamp version 2 must be >= 3", "New snapshot version must be >=
        # 3, got version 2", "Expected targets.json version 2, got 3." (a rollback in snapshot's list: new, old),
        # "Expected snapshot version 3, got 2" / "Expected targets v3, got v2." (mixed versions), "Expected root
        # version 2 instead got version 3" (a broken chain).
        rollback = (re.search(r"New (\w+) version (\d+) must be >= (\d+)", msg)
                    or re.search(r"New (\w+) version must be >= (\d+), got version (\d+)", msg))
        if rollback:
            role = rollback.group(1)
            nums = sorted(int(x) for x in rollback.groups()[1:])
            return TrustError(f"{loc}: the channel served {role} metadata version {nums[0]}, older than version "
                              f"{nums[1]} this computer already verified: a rollback attack or a stale mirror, so it "
                              "is refused.", hint="Try again later or another mirror. " + NOT_CHANGED)
        m = re.search(r"Expected (\w+)\.json version (\d+), got (\d+)", msg)
        if m:
            return TrustError(f"{loc}: the channel's snapshot names {m.group(1)} metadata version {m.group(2)}, older "
                              f"than version {m.group(3)} this computer already verified: a rollback attack (an older "
                              "release list) or a stale mirror, so it is refused.", hint=NOT_CHANGED)
        m = re.search(r"Expected (\w+) (?:version |v)(\d+)(?:,| instead) got (?:version |v)?(\d+)", msg)
        if m:
            parent = {"snapshot": "timestamp", "root": "chain of root versions"}.get(m.group(1), "snapshot")
            return TrustError(f"{loc}: the channel's {parent} names {m.group(1)} version {m.group(2)}, but the channel "
                              f"served version {m.group(3)}: metadata mixed from different versions (a mix-and-match "
                              "attack or a broken mirror), so it is refused.", hint=NOT_CHANGED)
        return TrustError(f"{loc}: the channel's metadata has an unexpected version ({msg}): a rollback or mixed "
                          "versions, so it is refused.", hint=NOT_CHANGED)

    def _new_releases(self, md: Any) -> list[str]:
        old: dict[str, Any] = {}
        try:
            assert self.anchor is not None
            prev: Any = Metadata.from_bytes((self.anchor.metadata_dir / "targets.json").read_bytes())
            old = dict(prev.signed.targets)
        except Exception:
            pass
        versions = []
        for path, t in md.signed.targets.items():
            fields = t.custom.get(RELEASE_FIELD) if isinstance(t.custom, dict) else None
            # added or changed since the release list this computer last verified
            if t != old.get(path) and isinstance(fields, dict) and fields.get("version"):
                versions.append(str(fields["version"]))
        return sorted(set(versions))

    def _foreign_signatures(self, md: Any) -> str:
        """Signatures from keys that are not current SIG members (a removed member, the online key)."""
        try:
            root = self._trusted_root_now()
            role = root.get_delegated_role("targets")
        except Exception:
            return ""
        foreign = [k for k in md.signatures if k not in role.keyids]
        if not foreign:
            return ""
        names = [self._any_member_name(k) for k in foreign]
        return f" (signatures by {', '.join(names)}, not current SIG members, do not count)"

    def _any_member_name(self, keyid: str) -> str:
        """A key's name from the newest root that still lists it (a removed member is gone from the current one)."""
        assert self.anchor is not None
        history = sorted(self.anchor.metadata_dir.glob("root_history/*.root.json"),
                         key=lambda p: int(p.name.split(".")[0]), reverse=True)
        for p in history:
            try:
                root: Any = Metadata.from_bytes(p.read_bytes()).signed
            except Exception:
                continue
            if keyid in root.keys:
                return member_name(root, keyid)
        return f"key {keyid[:12]}"

    def _trusted_root_now(self) -> Any:
        assert self.anchor is not None
        return Metadata.from_bytes((self.anchor.metadata_dir / "root.json").read_bytes()).signed


def member_name(root: Any, keyid: str) -> str:
    key = root.keys.get(keyid)
    name = key.unrecognized_fields.get(NAME_FIELD) if key is not None else None
    return str(name) if name else f"key {keyid[:12]}"


def _date(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _cause(exc: BaseException) -> str:
    """The innermost reason of a download error (connection refused, TLS), which tuf wraps."""
    seen = exc
    while seen.__cause__ is not None:
        seen = seen.__cause__
    reason = getattr(seen, "reason", None)
    return _short(reason if isinstance(reason, BaseException) else seen)


__all__ = ["TrustedChannel", "ChannelReader", "open_channel", "approval_note", "UNSIGNED_WARNING", "Approvals", "Anchor", "trust_channel", "find_anchor", "list_anchors", "trust_dir",
           "channel_base", "is_signed_channel", "untrusted_error", "member_name"]
