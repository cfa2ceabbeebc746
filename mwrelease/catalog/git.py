"""Git repositories as catalog sources, read with the ``git`` CLI and without a checkout.

Which refs count: ``REL1_xx`` branches, archived ``REL1_xx`` tags (Wikimedia's "Archive of branch"),
version tags (``1.2.3``, ``v1.2.3``, MLEB's ``2024.07``) and the default branch. Each is read with one
``git cat-file --batch`` (``<commit>:extension.json`` etc.). Metadata per commit never changes, so
it is cached by commit in ``$XDG_CACHE_HOME/mwrelease/git/``; remote repositories are mirrored there
as bare clones (blobs fetched lazily) and fetched again on each use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mwrelease.catalog.candidate import Candidate, Requires
from mwrelease.cachedir import user_cache_dir
from mwrelease.errors import SourceError
from mwrelease.fsutil import write_atomic

REF_PATTERNS = [
    (re.compile(r"^refs/(?:heads|remotes/origin)/(REL\d+_\d+)$"), "branch"),
    (re.compile(r"^refs/tags/(REL\d+_\d+)$"), "archive-tag"),
    (re.compile(r"^refs/tags/(v?\d+(?:[.-]\d+)*(?:[-.]?(?:alpha|beta|rc|RC)\.?\d*)?)$"), "tag"),
    (re.compile(r"^refs/(?:heads|remotes/origin)/(master|main|\d+\.x)$"), "branch"),
]


def cache_dir() -> Path:
    d = user_cache_dir("git")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _git(args: list[str], *, cwd: Path | None = None, input: bytes | None = None, what: str) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, timeout=600,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise SourceError("The git command is not installed.", hint="Install git (apt-get install git).") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"git timed out after 10 minutes while {what}.") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise SourceError(f"git failed while {what}: {err[-1] if err else 'exit ' + str(proc.returncode)}",
                          hint="Check that the repository URL is right and reachable, then run again.")
    return proc.stdout


class GitSource:
    def __init__(self, url: str) -> None:
        self.url = url
        self.description = f"git:{url}"
        self._git_dir: Path | None = None

    def git_dir(self) -> Path:
        if self._git_dir is not None:
            return self._git_dir
        local = Path(self.url.removeprefix("file://"))
        if local.exists():
            if (local / ".git").exists():
                self._git_dir = local / ".git"
            elif (local / "HEAD").is_file():
                self._git_dir = local
            else:
                raise SourceError(f"{local} is not a git repository.")
            return self._git_dir
        mirror = cache_dir() / (hashlib.sha256(self.url.encode()).hexdigest()[:16] + ".git")
        if mirror.exists():
            _git(["--git-dir", str(mirror), "fetch", "--prune", "--tags", "origin", "+refs/heads/*:refs/heads/*"],
                 what=f"fetching {self.url}")
        else:
            _git(["clone", "--bare", "--filter=blob:none", self.url, str(mirror)], what=f"cloning {self.url}")
        self._git_dir = mirror
        return mirror

    def refs(self) -> list[tuple[str, str, str]]:
        """(ref name, ref type, commit) for the refs that count, newest branch names first."""
        out = _git(["--git-dir", str(self.git_dir()), "for-each-ref", "--format=%(refname) %(*objectname) %(objectname)"],
                   what=f"listing refs of {self.url}").decode()
        found: dict[str, tuple[str, str, str]] = {}
        for line in out.splitlines():
            refname, peeled, obj = (line.split(" ") + ["", ""])[:3]
            if not obj:  # not an annotated tag: "%(*objectname)" was empty
                obj, peeled = peeled, ""
            commit = peeled or obj
            for pattern, ref_type in REF_PATTERNS:
                m = pattern.match(refname)
                if m:
                    name = m.group(1)
                    # A live REL branch wins over the archive tag of the same name.
                    if name not in found or ref_type == "branch":
                        found[name] = (name, ref_type, commit)
                    break
        return list(found.values())

    def candidates(self) -> Iterator[Candidate]:
        git_dir = self.git_dir()
        refs = self.refs()
        cache_file = cache_dir() / (hashlib.sha256(str(git_dir.resolve()).encode()).hexdigest()[:16] + ".meta.json")
        cache: dict[str, Any] = {}
        if cache_file.exists():
            try:
                cache = json.loads(cache_file.read_text())
            except json.JSONDecodeError:
                cache = {}
        missing = sorted({c for _, _, c in refs if c not in cache})
        if missing:
            cache.update(self._read_commits(git_dir, missing))
            write_atomic(cache_file, json.dumps(cache))
        fallback_name = re.sub(r"^mediawiki-(extensions|skins)-", "", Path(self.url.rstrip("/")).name.removesuffix(".git"))
        for ref, ref_type, commit in refs:
            meta = cache[commit]
            manifest = meta.get("manifest")
            if manifest is None and meta.get("composer") is None:
                continue  # not an extension at this ref
            manifest = manifest or {}
            yield Candidate(
                name=fallback_name,
                display_name=str(manifest.get("name") or fallback_name),
                kind="skin" if meta.get("manifest_file") == "skin.json" else "extension",
                ref=ref,
                ref_type=ref_type,
                commit=commit,
                version=manifest.get("version"),
                requires=Requires.from_manifest(manifest.get("requires")),
                composer_require=MappingProxyType(dict((meta.get("composer") or {}).get("require") or {})),
                has_manifest=meta.get("manifest") is not None,
                origin=self.description,
                repo=self.url,
            )

    @staticmethod
    def _read_commits(git_dir: Path, commits: list[str]) -> dict[str, Any]:
        files = ["extension.json", "skin.json", "composer.json"]
        request = "".join(f"{c}:{f}\n" for c in commits for f in files).encode()
        out = _git(["--git-dir", str(git_dir), "cat-file", "--batch"], input=request, what="reading extension.json at each ref")
        blobs: list[bytes | None] = []
        pos = 0
        while pos < len(out):
            nl = out.index(b"\n", pos)
            header = out[pos:nl].decode()
            pos = nl + 1
            if header.endswith(" missing") or header.endswith(" ambiguous"):
                blobs.append(None)
                continue
            size = int(header.rsplit(" ", 1)[1])
            blobs.append(out[pos:pos + size])
            pos += size + 1
        result: dict[str, Any] = {}
        for i, c in enumerate(commits):
            ext, skin, composer = blobs[i * 3:(i + 1) * 3]
            meta: dict[str, Any] = {"manifest": None, "manifest_file": None, "composer": None}
            for fname, blob in (("skin.json", skin), ("extension.json", ext)):
                if blob is not None:
                    meta["manifest"], meta["manifest_file"] = _loads(blob), fname
            if composer is not None:
                meta["composer"] = _loads(composer)
            result[c] = meta
        return result


def _loads(blob: bytes) -> Any:
    try:
        return json.loads(blob)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
