"""Where a channel is and what this computer trusts about it: the per-user trust-anchor store.

``$MWRELEASE_TRUST_DIR`` or ``$XDG_DATA_HOME/mwrelease/trust/<channel-id>/`` (``~/.local/share/...``; directories
0700, files 0600): ``channel.json`` (its locations, the anchor's digest), ``anchor.root.json`` (the root the admin
vouched for with ``mwrelease channel trust``) and ``metadata/`` (python-tuf's Updater state: the newest verified
metadata, which is what stops a rollback across runs). The channel id is the sha256 of its 1.root.json.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from mwrelease.errors import TrustError

TRUST_FORMAT = "mwrelease.trust/1"
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


def load_anchor(d: Path) -> Anchor | None:
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
        a = load_anchor(d) if d.is_dir() else None
        if a and base in a.locations:
            return a
    return None


def list_anchors(store: Path | None = None) -> list[Anchor]:
    store = store or trust_dir()
    if not store.is_dir():
        return []
    return [a for d in sorted(store.iterdir()) if d.is_dir() and (a := load_anchor(d))]


def private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path: Path, data: bytes) -> None:
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


__all__ = ["Anchor", "trust_dir", "channel_base", "is_signed_channel", "find_anchor", "list_anchors",
           "untrusted_error", "private_dir", "write_private", "TRUST_FORMAT", "NOT_CHANGED"]
