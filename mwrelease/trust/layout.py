"""A signed channel's directory on the SIG's side: its layout, reading its TUF metadata (python-tuf's Metadata
API), one writer at a time and atomic writes.

Layout (see /work/TRUST-CONTRACT.md; consistent_snapshot = true)::

    CHANNEL/metadata/N.root.json        every root version; root.json = a copy of the newest
    CHANNEL/metadata/N.targets.json     the releases: K signatures of current SIG members
    CHANNEL/metadata/N.snapshot.json    online key
    CHANNEL/metadata/timestamp.json     online key; written LAST (atomic rename)
    CHANNEL/targets/<sha256>.<name>     index.json, artifacts, manifests, deltas, SBOMs, seal envelopes
    CHANNEL/proposals/<name>/           staged releases waiting for approval (default place)

Expiry periods live in the signed root (``x-mwrelease-expiry``), so the chairs set them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from mwrelease.errors import ConfigError, IntegrityError

EXPIRY_FIELD = "x-mwrelease-expiry"
DEFAULT_EXPIRY = {"root": 365 * 86400, "targets": 365 * 86400, "snapshot": 7 * 86400, "timestamp": 86400}
ONLINE_ROLES = ("snapshot", "timestamp")
INDEX_TARGET = "index.json"
CUSTOM_KEY = "mwrelease"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


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


def write_atomic(path: Path, data: bytes) -> None:
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


def md_bytes(md: Any) -> bytes:
    from tuf.api.serialization.json import JSONSerializer

    data: bytes = md.to_bytes(JSONSerializer(compact=False))
    return data + b"\n"
