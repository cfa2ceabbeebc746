"""A release channel: a directory (served as files or over HTTPS) with artifacts and an index.

``index.json`` (format ``mwrelease.channel/1``)::

    {
      "format": "mwrelease.channel/1",
      "updated": "2026-11-22T03:00:00Z",
      "lines": {
        "1.43-lts": {"line": "1.43", "lts": true, "releases": [
          {"version": "1.43.5", "published": "…", "php": ">= 8.1.0", "databases": ["sqlite"],
           "upgrades_from": ["1.39", …, "1.43"], "bundle": "tarball-1.43",
           "manifest": {"file": "mediawiki-1.43.5.manifest.json", "sha256": "…", "tree_sha256": "…"},
           "artifacts": [
             {"kind": "full", "file": "mediawiki-1.43.5.tar.gz", "sha256": "…", "size": 123},
             {"kind": "delta", "from": "1.43.4", "file": "mediawiki-1.43.5-from-1.43.4.delta.tar.gz",
              "sha256": "…", "size": 45, "manifest": {"file": "…delta.manifest.json", "sha256": "…"}}]}
        ]}
      },
      "signatures": []          # filled by the signing issue (SIG quorum over the canonical index)
    }

Releases in a line are sorted oldest first. The index is rewritten atomically on every publish.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from mwrelease.errors import ConfigError, IntegrityError, SourceError
from mwrelease.fsutil import now, replacing, write_atomic
from mwrelease.release.download import DEADLINE, http_session, read_capped, read_chunks, stream_verified
from mwrelease.release.lines import channel_name, is_lts, line_key, version_key
from mwrelease.release.manifest import Manifest, check_sha256sums, checked_size, sha256_file

CHANNEL_FORMAT = "mwrelease.channel/1"
INDEX_NAME = "index.json"


@dataclass(frozen=True, kw_only=True)
class ArtifactRef:
    kind: str
    file: str
    sha256: str
    size: int
    delta_from: str | None = None
    manifest_file: str | None = None
    manifest_sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseEntry:
    version: str
    line: str
    php: str | None
    databases: tuple[str, ...]
    upgrades_from: tuple[str, ...]
    manifest_file: str
    manifest_sha256: str
    artifacts: tuple[ArtifactRef, ...]

    def full(self) -> ArtifactRef:
        for a in self.artifacts:
            if a.kind == "full":
                return a
        raise SourceError(f"The channel lists MediaWiki {self.version} without a full artifact.",
                          hint="Ask the release managers to publish it.")

    def delta_from(self, version: str) -> ArtifactRef | None:
        return next((a for a in self.artifacts if a.kind == "delta" and a.delta_from == version), None)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "line": self.line, "php": self.php, "upgrades_from": list(self.upgrades_from),
                "artifacts": [a.file for a in self.artifacts]}


@dataclass(frozen=True, kw_only=True)
class ChannelIndex:
    releases: tuple[ReleaseEntry, ...]
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any, *, origin: str) -> ChannelIndex:
        if not isinstance(data, dict) or data.get("format") != CHANNEL_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise SourceError(f"{origin} is not an mwrelease release channel index (format {got!r}, expected "
                              f"{CHANNEL_FORMAT!r}).", hint="Check the --channel URL.")
        out: list[ReleaseEntry] = []
        try:
            for line in data["lines"].values():
                for r in line["releases"]:
                    arts = tuple(ArtifactRef(
                        kind=a["kind"], file=a["file"], sha256=a["sha256"], size=checked_size(a["size"]),
                        delta_from=a.get("from"), manifest_file=(a.get("manifest") or {}).get("file"),
                        manifest_sha256=(a.get("manifest") or {}).get("sha256")) for a in r["artifacts"])
                    out.append(ReleaseEntry(
                        version=r["version"], line=line["line"], php=r.get("php"),
                        databases=tuple(r.get("databases", [])), upgrades_from=tuple(r["upgrades_from"]),
                        manifest_file=r["manifest"]["file"], manifest_sha256=r["manifest"]["sha256"], artifacts=arts))
            if not all(isinstance(r.version, str) and isinstance(r.line, str) for r in out):
                raise TypeError("version or line is not a string")
            out.sort(key=lambda r: version_key(r.version))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SourceError(f"{origin} is a damaged channel index: missing or wrong field {str(exc)[:300]}.",
                              hint="Tell the channel's maintainers; try again later.") from None
        return cls(releases=tuple(out), raw=data)

    def find(self, version: str) -> ReleaseEntry | None:
        return next((r for r in self.releases if r.version == version), None)

    def newest(self, line: str | None = None) -> ReleaseEntry | None:
        rs = [r for r in self.releases if line is None or r.line == line]
        return rs[-1] if rs else None


# --- publishing --------------------------------------------------------------------------------

def manifest_beside(artifact: Path) -> Path:
    name = artifact.name
    if not name.endswith(".tar.gz"):
        raise ConfigError(f"{artifact} is not a release tarball (*.tar.gz).")
    return artifact.with_name(name[: -len(".tar.gz")] + ".manifest.json")


def publish(artifact: Path, channel_dir: Path) -> dict[str, Any]:
    """Copy an artifact and its manifest into the channel and add it to index.json. Returns the release entry."""
    if not artifact.is_file():
        raise ConfigError(f"Artifact {artifact} does not exist.", hint="Build it with `mwrelease release build`.")
    manifest_path = manifest_beside(artifact)
    check_sha256sums(artifact)
    check_sha256sums(manifest_path)
    manifest = Manifest.load(manifest_path)
    if manifest.artifact_file != artifact.name:
        raise IntegrityError(f"{manifest_path.name} describes {manifest.artifact_file}, not {artifact.name}.")
    channel_dir.mkdir(parents=True, exist_ok=True)
    index = _load_index_for_update(channel_dir)
    for src in (artifact, manifest_path):
        dest = channel_dir / src.name
        if src.resolve() != dest.resolve():
            with replacing(dest) as tmp:
                shutil.copyfile(src, tmp)
    digest = sha256_file(channel_dir / artifact.name)
    mdigest = sha256_file(channel_dir / manifest_path.name)
    key = channel_name(manifest.core_line)
    line = index["lines"].setdefault(key, {"line": manifest.core_line, "lts": is_lts(manifest.core_line), "releases": []})
    entry = next((r for r in line["releases"] if r["version"] == manifest.core_version), None)
    if entry is None:
        entry = {"version": manifest.core_version, "published": now(), "artifacts": []}
        line["releases"].append(entry)
    art: dict[str, Any] = {"kind": manifest.kind, "file": artifact.name, "sha256": digest,
                           "size": (channel_dir / artifact.name).stat().st_size}
    if manifest.kind == "full":
        entry.update({"php": manifest.php_requirement, "databases": list(manifest.databases),
                      "upgrades_from": list(manifest.upgrades_from_lines), "bundle": manifest.bundle,
                      "manifest": {"file": manifest_path.name, "sha256": mdigest, "tree_sha256": manifest.tree_sha256}})
    else:
        art["from"] = manifest.delta_from
        art["manifest"] = {"file": manifest_path.name, "sha256": mdigest}
        entry.setdefault("php", manifest.php_requirement)
        entry.setdefault("databases", list(manifest.databases))
        entry.setdefault("upgrades_from", [manifest.core_line])
        entry.setdefault("manifest", {"file": manifest_path.name, "sha256": mdigest, "tree_sha256": manifest.tree_sha256})
    entry["artifacts"] = [a for a in entry["artifacts"] if a["file"] != artifact.name] + [art]
    entry["artifacts"].sort(key=lambda a: (a["kind"] != "full", a["file"]))
    line["releases"].sort(key=lambda r: version_key(r["version"]))
    index["lines"] = dict(sorted(index["lines"].items(), key=lambda kv: line_key(kv[1]["line"])))
    index["updated"] = now()
    _write_index(channel_dir, index)
    return {"line": key, "version": manifest.core_version, "artifact": art}


def _load_index_for_update(channel_dir: Path) -> dict[str, Any]:
    p = channel_dir / INDEX_NAME
    if not p.exists():
        return {"format": CHANNEL_FORMAT, "updated": now(), "lines": {}, "signatures": []}
    data = json.loads(p.read_text())
    ChannelIndex.from_json(data, origin=str(p))  # validate before changing it
    return dict(data)


def _write_index(channel_dir: Path, index: dict[str, Any]) -> None:
    # A new index invalidates any signatures made over the old one: the signing issue re-signs.
    index["signatures"] = []
    write_atomic(channel_dir / INDEX_NAME, json.dumps(index, indent=2) + "\n", mode=0o644)  # served to everyone


# --- reading -----------------------------------------------------------------------------------

class ChannelClient:
    """Reads a channel from a directory, a file:// URL or an http(s):// URL."""

    def __init__(self, location: str, *, retries: int = 3, timeout: float = 30.0) -> None:
        self.location = location
        parsed = urllib.parse.urlparse(location)
        self.remote = parsed.scheme in ("http", "https")
        if parsed.scheme == "file":
            self.base = urllib.parse.unquote(parsed.path)
        elif self.remote:
            self.base = location.rstrip("/") + "/"
        elif parsed.scheme in ("",) or len(parsed.scheme) == 1:
            self.base = location
        else:
            raise ConfigError(f"Channel {location!r}: scheme {parsed.scheme!r} is not supported.",
                              hint="Use a directory, a file:// URL or an https:// URL.")
        self.retries = retries
        self.timeout = timeout
        self.deadline = DEADLINE  # per file, besides the per-read timeout
        self._session: Any = None

    def _http(self) -> Any:
        if self._session is None:
            self._session = http_session(self.retries)
        return self._session

    def _url(self, name: str) -> str:
        if "/" in name or name.startswith("."):
            raise IntegrityError(f"The channel names a file {name!r} outside its own directory; refusing it.")
        return self.base + name if self.remote else str(Path(self.base, name))

    def read_bytes(self, name: str, limit: int = 64 << 20) -> bytes:
        """The whole file, read while streaming with a byte cap (IntegrityError past ``limit``) and, over HTTP,
        the download deadline."""
        what = f"{name} from channel {self.location}"
        if not self.remote:
            try:
                with open(self._url(name), "rb") as fh:
                    raw = fh.read(limit + 1)
            except OSError as exc:
                raise SourceError(f"Cannot read {what}: {exc.strerror}.", hint="Check the --channel path.") from None
            if len(raw) > limit:
                raise IntegrityError(f"{what} is larger than {limit} bytes; refusing it.")
            return raw
        url = self._url(name)
        return read_capped(read_chunks(url, session=self._http(), timeout=self.timeout, size=1 << 16,
                                       deadline=self.deadline, failed=f"Cannot download {url}",
                                       hint="Check the network and the --channel URL, then run the command again; "
                                            "nothing on the wiki was changed."), limit, url)

    def index(self) -> ChannelIndex:
        raw = self.read_bytes(INDEX_NAME)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # also 5,000-digit numbers and 100,000-deep nesting
            raise SourceError(f"The index of channel {self.location} is not valid JSON "
                              f"({type(exc).__name__}: {str(exc)[:200]}).") from None
        return ChannelIndex.from_json(data, origin=f"{self.location}/{INDEX_NAME}")

    def manifest(self, name: str, sha256: str) -> Manifest:
        raw = self.read_bytes(name)
        actual = hashlib.sha256(raw).hexdigest()
        if actual != sha256:
            raise IntegrityError(f"Manifest {name} from {self.location} has sha256 {actual}, the channel index says "
                                 f"{sha256}; it was damaged or tampered with.",
                                 hint="Nothing was changed on the wiki. Try again later or tell the channel's maintainers.")
        try:
            return Manifest.from_json(json.loads(raw), origin=name)
        except (ValueError, RecursionError) as exc:
            raise IntegrityError(f"Manifest {name} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}).") \
                from None

    def download(self, art: ArtifactRef, dest_dir: Path, *, progress: Callable[[int], None] | None = None) -> Path:
        """Fetch an artifact into dest_dir, hashing while it streams; IntegrityError on a size or sha256 mismatch.
        An artifact already there (a run interrupted after its download) is used again if it still verifies."""
        dest = dest_dir / art.file
        if dest.is_file() and dest.stat().st_size == art.size and sha256_file(dest) == art.sha256:
            if progress:
                progress(art.size)
            return dest

        def mismatch(actual: str, size: int, too_large: bool) -> IntegrityError:
            if too_large:
                return IntegrityError(f"{art.file} is larger than the {art.size} bytes the channel index says; "
                                      "it was damaged or tampered with.",
                                      hint="Nothing was changed on the wiki. Try again later.")
            return IntegrityError(f"{art.file} has sha256 {actual} ({size} bytes), but the channel index says "
                                  f"{art.sha256} ({art.size} bytes); it was damaged or tampered with, so it will not "
                                  "be installed.", hint="Nothing was changed on the wiki. Try again later, or tell "
                                  "the channel's maintainers if it happens again.")

        return stream_verified(self._chunks(art.file), dest, sha256=art.sha256, size=art.size,
                               mismatch=mismatch, progress=progress)

    def _chunks(self, name: str, size: int = 1 << 20) -> Iterator[bytes]:
        url = self._url(name)
        if not self.remote:
            return read_chunks(url, local_error=f"Cannot read {name} from channel {self.location}", size=size)
        return read_chunks(url, session=self._http(), timeout=self.timeout, size=size, deadline=self.deadline,
                           hint="Check the network, then run the command again; nothing on the wiki was changed.")
