"""Snapshots of an installed wiki on the host, so that later cells on the same image start warm.

- the SQLite install (``sqlite-KEY.tar``: the data directory, LocalSettings.php and the ``Wiki``), keyed by
  the image id: the first cell on an image saves it, later ones restore it instead of running install.php;
- the caches (``caches-KEY.tar``), keyed by the image id and the lock: the localisation cache, whose building
  is the first request's biggest cost, and ResourceLoader's compiled modules (``runner.rlcache``), the
  load.php checks' biggest cost.

Every cell writes the same content for the same key; files are written to a temp name and renamed, so
that parallel cells never read a half-written snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from pathlib import Path

from mwrelease.cachedir import user_cache_dir
from mwrelease.components import safe_extract
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Container, Engine

SNAPSHOT_VERSION = "2"
L10N_DIR = "/var/lib/mwtest/cache"


def default_snapshot_dir() -> Path:
    return user_cache_dir("snapshots")


def cache_path(snapshot_dir: Path | None, engine: Engine, image_tag: str, lock_digest: str) -> Path | None:
    if snapshot_dir is None or not image_tag:
        return None
    info = engine.image(image_tag)
    if info is None:
        return None
    key = hashlib.sha256(f"{SNAPSHOT_VERSION}\0{info.id}\0{lock_digest}".encode()).hexdigest()[:16]
    return snapshot_dir / f"caches-{key}.tar"


def sqlite_path(snapshot_dir: Path | None, engine: Engine, image_tag: str) -> Path | None:
    if snapshot_dir is None:
        return None
    info = engine.image(image_tag)
    if info is None:
        return None
    key = hashlib.sha256(f"{SNAPSHOT_VERSION}\0{info.id}\0sqlite".encode()).hexdigest()[:16]
    return snapshot_dir / f"sqlite-{key}.tar"


def save_tree(container: Container, path: str, dest: Path) -> None:
    """Directory ``path`` of the container as the tar ``dest`` (its contents at the top)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        container.get_tree(path, d)
        part = dest.with_suffix(f".{os.getpid()}.{id(container)}.part")
        with tarfile.open(part, "w") as tar:
            for child in sorted(Path(d).iterdir()):
                tar.add(child, arcname=child.name)
        part.replace(dest)


def restore_tree(container: Container, snapshot: Path, path: str) -> None:
    """The opposite of ``save_tree``."""
    with tarfile.open(snapshot) as tar, tempfile.TemporaryDirectory() as d:
        safe_extract(tar, Path(d))
        container.put_tree(Path(d), path)


def save_sqlite(container: Container, wiki: mw.Wiki, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        container.get_tree(mw.SQLITE_DIR, Path(d) / "data")
        (Path(d) / "LocalSettings.php").write_bytes(container.get_file(wiki.local_settings))
        (Path(d) / "wiki.json").write_text(json.dumps(wiki.to_json()))
        part = path.with_suffix(f".{os.getpid()}.{id(container)}.part")
        with tarfile.open(part, "w") as tar:
            for name in ("data", "LocalSettings.php", "wiki.json"):
                tar.add(Path(d) / name, arcname=name)
        part.replace(path)


def restore_sqlite(container: Container, path: Path) -> mw.Wiki:
    with tempfile.TemporaryDirectory() as d:
        with tarfile.open(path) as tar:
            safe_extract(tar, Path(d))
        wiki = mw.Wiki(**json.loads((Path(d) / "wiki.json").read_text()))
        container.put_tree(Path(d) / "data", mw.SQLITE_DIR)
        directory, _, name = wiki.local_settings.rpartition("/")
        container.put_files(directory, {name: (Path(d) / "LocalSettings.php").read_bytes()})
    return wiki
