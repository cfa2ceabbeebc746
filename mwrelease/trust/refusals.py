"""One sentence per refusal: python-tuf's exceptions turned into what the admin reads (TrustError, exit 8).

The sentence names what failed and what the channel claimed (the expiry date, the release that lacks approvals,
the versions of a rollback), read from the metadata bytes the fetcher saw and the verified state in the store.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any

from tuf.api import exceptions as tx
from tuf.api.metadata import Metadata
from tuf.api.serialization import DeserializationError

from mwrelease.errors import MwreleaseError, SourceError, TrustError
from mwrelease.trust.anchors import NOT_CHANGED, Anchor

NAME_FIELD = "x-mwrelease-name"
RELEASE_FIELD = "mwrelease"


class Refusal:
    """Explains a failure of one channel read: ``explain(exc, what, target=...)`` returns the error to raise."""

    def __init__(self, location: str, anchor: Anchor | None, fetcher: Any) -> None:
        self.location = location
        self.anchor = anchor
        self.fetcher = fetcher

    def explain(self, exc: BaseException, what: str, *, target: Any = None) -> MwreleaseError:
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
            return SourceError(f"{loc} cannot be read: {cause(exc)}.",
                               hint="Check the network and the channel URL, then run the command again. " + NOT_CHANGED)
        if isinstance(exc, tx.RepositoryError):
            if isinstance(exc, DeserializationError) or "Expected '" in msg:
                return TrustError(f"{loc}: the channel's {self._last_name() if what != 'the trust anchor' else what} "
                                  f"is malformed metadata ({short(exc)}), so nothing from the channel is used.",
                                  hint=NOT_CHANGED)
            return TrustError(f"{loc}: the channel's signed metadata does not verify ({short(exc)}).", hint=NOT_CHANGED)
        if isinstance(exc, OSError):
            return TrustError(f"Cannot write the trust store of {loc} ({exc}).")
        return TrustError(f"{loc}: verifying the channel failed ({type(exc).__name__}: {short(exc)}).", hint=NOT_CHANGED)

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
        return utc_date(md.signed.expires) if md is not None else None

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


def utc_date(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def cause(exc: BaseException) -> str:
    """The innermost reason of a download error (connection refused, TLS), which tuf wraps."""
    seen = exc
    while seen.__cause__ is not None:
        seen = seen.__cause__
    reason = getattr(seen, "reason", None)
    return short(reason if isinstance(reason, BaseException) else seen)


__all__ = ["Refusal", "member_name", "short", "cause", "utc_date", "NAME_FIELD", "RELEASE_FIELD"]
