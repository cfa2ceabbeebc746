"""The release manifest: what a release artifact contains, exactly enough to verify every file.

File format (JSON, ``format: "mwrelease.manifest/1"``)::

    {
      "format": "mwrelease.manifest/1",
      "kind": "full" | "delta",
      "name": "mediawiki-1.43.5",                      # also the tarball's top directory
      "core": {"version": "1.43.5", "line": "1.43", "lts": true},
      "core_source": {"type": "tarball", "url": "https://…/mediawiki-1.43.5.tar.gz", "sha256": "…"},
                                                        # only when core came from a tarball (absent otherwise)
      "bundle": "tarball-1.43",                         # the lock's bundle name ("" without a lock)
      "requires": {"php": ">= 8.1.0", "databases": ["sqlite", "mariadb"]},
      "php_tested": ["8.2", "8.4"],
      "upgrades_from": {"lines": ["1.39", "1.40", "1.41", "1.42", "1.43"], "min_version": "1.39.0"},
      "components": [{"name": "Cite", "kind": "extension", "ref": "REL1_43", "commit": "…" | null,
                      "version": "…" | null, "source": "bundled" | "git" | "path" | "core-tree"}],
      "files": [{"path": "index.php", "sha256": "…", "size": 123, "mode": "0644"},
                {"path": "x/link", "link": "target"}],        # every file of the full tree
      "tree_sha256": "…",                                       # digest over the "files" list
      "artifact": {"file": "mediawiki-1.43.5.tar.gz", "prefix": "mediawiki-1.43.5/"},
      "delta": null | {"from": "1.43.4", "from_tree_sha256": "…",
                       "changed": ["paths in the delta tarball"], "removed": ["paths to delete"]},
      "created_by": "mwrelease 0.1.0"
    }

A delta manifest carries the *full* target file list: applying a delta to the old tree must yield a
tree that verifies against it exactly as a full artifact would.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NamedTuple

from mwrelease.errors import IntegrityError
from mwrelease.jsonfile import read_json
from mwrelease.release.lines import LTS_LINES

MANIFEST_FORMAT = "mwrelease.manifest/1"


@dataclass(frozen=True, kw_only=True)
class FileEntry:
    path: str
    sha256: str | None = None
    size: int = 0
    mode: int = 0o644
    link: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.link is not None:
            return {"path": self.path, "link": self.link}
        return {"path": self.path, "sha256": self.sha256, "size": self.size, "mode": f"{self.mode:04o}"}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileEntry:
        if "link" in d:
            return cls(path=_str(d["path"]), link=_str(d["link"]))
        return cls(path=_str(d["path"]), sha256=_str(d["sha256"]), size=checked_size(d.get("size", 0)),
                   mode=int(_str(d.get("mode", "0644")), 8) & 0o7777)


MAX_FILE_SIZE = 1 << 40


def checked_size(v: Any) -> int:
    """A byte count from JSON: an integer from 0 to 1 TiB (not 1e999, not 5,000 digits, not true)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_FILE_SIZE:
        raise ValueError(f"size {str(v)[:30]!r}")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{type(v).__name__} where a string belongs")
    return v


def _name(v: Any) -> str:
    name = _str(v)
    if "/" in name or check_rel_path(name):
        raise ValueError(f"name {name[:100]!r}")
    return name


def _kind(v: Any) -> Literal["full", "delta"]:
    if v == "full":
        return "full"
    if v == "delta":
        return "delta"
    raise ValueError(f"kind {str(v)[:30]!r}")


def check_rel_path(p: str) -> str | None:
    """Why ``p`` is not a safe path inside a tree (None when it is): relative, no '..', '.', or empty part."""
    if not p or p.startswith("/") or "\\" in p or "\0" in p:
        return "is empty, absolute or has a backslash or NUL"
    if any(part in ("", ".", "..") for part in p.split("/")):
        return "has an empty, '.' or '..' component"
    return None


def check_paths(m: Manifest) -> None:
    """Every file, link, changed and removed path of ``m`` stays inside the tree: ValueError otherwise.

    No path lies under a symlink of the manifest (the link could point anywhere the writer wants), and every
    link resolves inside the tree (links are followed lexically: a link's parent is never a link)."""
    links = {f.path: f.link for f in m.files if f.link is not None}
    for p in [f.path for f in m.files] + list(m.delta_changed) + list(m.delta_removed):
        why = check_rel_path(p)
        if why:
            raise ValueError(f"path {p[:200]!r} {why}")
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise ValueError(f"path {p[:200]!r} lies under the symlink {'/'.join(parts[:i])!r}")
    for p, target in links.items():
        assert target is not None
        norm = posixpath.normpath(posixpath.join(posixpath.dirname(p), target))
        if target.startswith("/") or norm == ".." or norm.startswith("../"):
            raise ValueError(f"symlink {p[:200]!r} points outside the tree ({target[:200]!r})")


@dataclass(frozen=True, kw_only=True)
class Component:
    name: str
    kind: str
    ref: str | None = None
    commit: str | None = None
    version: str | None = None
    source: str = "core-tree"
    requires_mediawiki: str | None = None
    url: str | None = None  # where a git or tarball source came from (the SBOM's repository); older manifests: none

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "kind": self.kind, "ref": self.ref, "commit": self.commit,
               "version": self.version, "source": self.source, "requires_mediawiki": self.requires_mediawiki}
        return out | ({"url": self.url} if self.url else {})

    @classmethod
    def from_json(cls, c: dict[str, Any]) -> Component:
        """Keys this version does not know are ignored: a later version may record more of a component."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in c.items() if k in known})


@dataclass(frozen=True, kw_only=True)
class Manifest:
    name: str
    core_version: str
    core_line: str
    files: tuple[FileEntry, ...]
    kind: Literal["full", "delta"] = "full"
    bundle: str = ""
    php_requirement: str | None = None
    databases: tuple[str, ...] = ("sqlite",)
    php_tested: tuple[str, ...] = ()
    upgrades_from_lines: tuple[str, ...] = ()
    upgrades_from_min: str = ""
    components: tuple[Component, ...] = ()
    artifact_file: str = ""
    delta_from: str | None = None
    delta_from_tree_sha256: str | None = None
    delta_changed: tuple[str, ...] = ()
    delta_removed: tuple[str, ...] = ()
    created_by: str = ""
    core_source: dict[str, str] | None = None  # where core came from, e.g. {"type": "tarball", "url", "sha256"}
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.name + "/"

    @property
    def tree_sha256(self) -> str:
        return tree_digest(self.files)

    def file_map(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "kind": self.kind,
            "name": self.name,
            "core": {"version": self.core_version, "line": self.core_line, "lts": self.core_line in LTS_LINES},
            "bundle": self.bundle,
            "requires": {"php": self.php_requirement, "databases": list(self.databases)},
            "php_tested": list(self.php_tested),
            "upgrades_from": {"lines": list(self.upgrades_from_lines), "min_version": self.upgrades_from_min},
            "components": [c.to_json() for c in self.components],
            "files": [f.to_json() for f in self.files],
            "tree_sha256": self.tree_sha256,
            "artifact": {"file": self.artifact_file, "prefix": self.prefix},
            "delta": None if self.kind == "full" else {
                "from": self.delta_from, "from_tree_sha256": self.delta_from_tree_sha256,
                "changed": list(self.delta_changed), "removed": list(self.delta_removed)},
            "created_by": self.created_by,
        }
        if self.core_source is None:
            return data
        # An optional key, right after "core"; manifests without it keep their exact bytes.
        out: dict[str, Any] = {}
        for key, value in data.items():
            out[key] = value
            if key == "core":
                out["core_source"] = dict(self.core_source)
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "manifest") -> Manifest:
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise IntegrityError(f"{origin} is not an mwrelease release manifest (format {got!r}, expected "
                                 f"{MANIFEST_FORMAT!r}).", hint="Download the release again from its channel.")
        try:
            delta = data.get("delta") or {}
            m = cls(
                name=_name(data["name"]), kind=_kind(data["kind"]), core_version=_str(data["core"]["version"]),
                core_line=_str(data["core"]["line"]), bundle=data.get("bundle", ""),
                php_requirement=data["requires"].get("php"), databases=tuple(data["requires"].get("databases", [])),
                php_tested=tuple(data.get("php_tested", [])),
                upgrades_from_lines=tuple(data["upgrades_from"]["lines"]),
                upgrades_from_min=data["upgrades_from"].get("min_version", ""),
                components=tuple(Component.from_json(c) for c in data.get("components", [])),
                files=tuple(FileEntry.from_json(f) for f in data["files"]),
                artifact_file=_str(data["artifact"]["file"]),
                delta_from=delta.get("from"), delta_from_tree_sha256=delta.get("from_tree_sha256"),
                delta_changed=tuple(_str(p) for p in delta.get("changed", [])),
                delta_removed=tuple(_str(p) for p in delta.get("removed", [])),
                created_by=data.get("created_by", ""),
                core_source=_core_source(data.get("core_source")),
            )
            check_paths(m)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise IntegrityError(f"{origin} is a damaged or unsafe release manifest: missing or wrong field "
                                 f"{str(exc)[:300]}; nothing was written from it.",
                                 hint="Download the release again, or rebuild it with `mwrelease release build`.") from None
        if data.get("tree_sha256") not in (None, m.tree_sha256):
            raise IntegrityError(f"{origin}: its file list does not match its own tree_sha256; the manifest was edited.",
                                 hint="Download the release again from its channel.")
        return m

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = read_json(path, what="Release manifest", error=IntegrityError, hint="Download the release again from its channel.")
        return cls.from_json(data, origin=str(path))


def _core_source(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError("core_source")
    return dict(value)


_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode  # json.dumps(x, sort_keys=True), the encoder built once


def tree_digest(files: tuple[FileEntry, ...] | list[FileEntry]) -> str:
    """sha256 over one line per file, in path order: the file's JSON with sorted keys."""
    lines = [_SORTED_JSON(f.to_json()) for f in sorted(files, key=lambda e: e.path)]
    return hashlib.sha256(("\n".join(lines) + "\n" if lines else "").encode()).hexdigest()


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def check_sha256sums(path: Path) -> None:
    """Check a file against the SHA256SUMS beside it, when there is one."""
    sums = path.parent / "SHA256SUMS"
    if not sums.exists():
        return
    for ln in sums.read_text().splitlines():
        digest, _, name = ln.partition("  ")
        if name == path.name:
            actual = sha256_file(path)
            if actual != digest:
                raise IntegrityError(f"{path.name} has sha256 {actual}, but SHA256SUMS says {digest}; the file was "
                                     "damaged or tampered with.", hint="Download or build it again.")
            return


def normalise_mode(mode: int) -> int:
    """Modes as a release carries them: 0755 for anything executable by its owner, else 0644."""
    return 0o755 if mode & stat.S_IXUSR else 0o644


class TreeItem(NamedTuple):
    """A file or symlink of a tree as ``list_tree`` sees it: its metadata, no byte of its content read yet."""

    path: str
    link: str | None = None
    size: int = 0
    mode: int = 0o644  # normalised (``normalise_mode``)
    mtime: int = 0  # whole seconds, int(st_mtime), as a release tarball records it

    def entry(self, sha256: str | None) -> FileEntry:
        if self.link is not None:
            return FileEntry(path=self.path, link=self.link)
        return FileEntry(path=self.path, sha256=sha256, size=self.size, mode=self.mode)


def list_tree(root: Path, *, exclude: frozenset[str] = frozenset()) -> list[TreeItem]:
    """Every regular file and symlink under root (relative POSIX paths, sorted), from one lstat each (none for a
    folder or a symlink). A folder that cannot be listed is left out, as os.walk leaves it."""
    items: list[TreeItem] = []
    todo = [("", os.fspath(root))]
    while todo:
        rel_dir, dirpath = todo.pop()
        try:
            listing = os.scandir(dirpath)
        except OSError:
            continue
        with listing:
            for de in listing:
                rel = rel_dir + de.name
                if rel in exclude:
                    continue
                if de.is_symlink():
                    items.append(TreeItem(path=rel, link=os.readlink(de.path)))
                elif de.is_dir():
                    todo.append((rel + "/", de.path))
                else:
                    st = de.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        raise IntegrityError(f"{de.path} is neither a file, a directory nor a symlink (a device, "
                                             "socket or fifo); a release tree may contain none.",
                                             hint="Remove it from the tree and try again.")
                    items.append(TreeItem(path=rel, size=st.st_size, mode=normalise_mode(st.st_mode),
                                          mtime=int(st.st_mtime)))
    items.sort(key=lambda e: e.path)
    return items


def scan_tree(root: Path, *, exclude: frozenset[str] = frozenset()) -> list[FileEntry]:
    """Every regular file and symlink under root (relative POSIX paths, sorted), each file hashed. Directories
    are implied."""
    base = os.fspath(root)
    return [it.entry(None if it.link is not None else sha256_path(f"{base}/{it.path}"))
            for it in list_tree(root, exclude=exclude)]


def sha256_path(path: str, bufsize: int = 1 << 20) -> str:
    """``sha256_file`` with fewer calls per file (no file object): one read for most files of a tree."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        while chunk := os.read(fd, bufsize):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()
