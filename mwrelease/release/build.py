"""Build release artifacts: a full tarball in MediaWiki's upstream layout, a manifest, checksums, deltas.

Output directory after ``build_release`` (and ``build_delta``)::

    mediawiki-1.43.5.tar.gz                         # mediawiki-1.43.5/ + core, extensions, skins, vendor
    mediawiki-1.43.5.manifest.json                  # see manifest.py
    mediawiki-1.43.5-from-1.43.4.delta.tar.gz       # changed files only, same prefix
    mediawiki-1.43.5-from-1.43.4.delta.manifest.json
    SHA256SUMS                                      # "<sha256>  <file>" for every artifact and manifest
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mwrelease import __version__, mwtree
from mwrelease.errors import ConfigError, DiskFull
from mwrelease.components import put_component
from mwrelease.fsutil import disk_full, is_disk_full, remove_new, write_atomic
from mwrelease.lock import Lock, LockedComponent
from mwrelease.release import coretree
from mwrelease.release.archive import write_tarball, write_tree_tarball
from mwrelease.release.lines import line_of, upgrades_from, version_key
from mwrelease.release.manifest import Component, Manifest, list_tree, sha256_file

Progress = Callable[[str, int], None]  # (label, total) -> returns nothing; see cli for the click bar


def build_phases(*, fetch: bool = False, delta: bool = False) -> tuple[str, ...]:
    """The phases ``build_release`` reports to ``on_phase``, in order (for a progress count)."""
    return (("fetch",) if fetch else ()) + ("core", "components", "hash", "compress", "manifest") + \
        (("delta",) if delta else ()) + ("checksums",)


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One built artifact and its manifest, as `channel publish` takes them."""

    tarball: Path
    manifest_path: Path
    manifest: Manifest
    sha256: str
    size: int

    def to_json(self) -> dict[str, object]:
        return {"tarball": str(self.tarball), "manifest": str(self.manifest_path), "sha256": self.sha256,
                "size": self.size, "version": self.manifest.core_version, "kind": self.manifest.kind,
                "files": len(self.manifest.files)}


def artifact_names(version: str, delta_from: str | None = None) -> tuple[str, str]:
    base = f"mediawiki-{version}" + (f"-from-{delta_from}.delta" if delta_from else "")
    return base + ".tar.gz", base + ".manifest.json"


def build_release(lock: Lock, core_tree: Path | None, out_dir: Path, *, core_image: str | None = None,
                  core_tarball: coretree.CoreTarball | None = None, previous: Path | None = None,
                  tick: Callable[[int], None] | None = None, say: Callable[[str], None] | None = None,
                  on_phase: Callable[[str], None] | None = None) -> list[Artifact]:
    """Build the full artifact (and a delta when ``previous`` names an older manifest of the same line).

    Core comes from exactly one of ``core_tree``, ``core_image`` or ``core_tarball``. A tarball is fetched and
    checked (sha256, then every member) before anything is written to ``out_dir``. ``on_phase`` hears one
    line as each phase of ``build_phases`` finishes ("hash: 2345 files").
    """
    phase = on_phase or (lambda text: None)
    given = [name for name, v in (("--core-tree", core_tree), ("--core-image", core_image),
                                   ("--core-tarball", core_tarball)) if v is not None]
    if len(given) != 1:
        raise ConfigError(("No core to build from." if not given else
                           f"Core can come from one place only, but {' and '.join(given)} were given."),
                          hint="Pass exactly one of --core-tree DIR, --core-image IMAGE or --core-tarball URL "
                               "--core-sha256 HEX.")
    tarball_top: tuple[Path, str] | None = None
    if core_tarball is not None:
        local = coretree.fetch_tarball(core_tarball, say=say)
        tarball_top = (local, coretree.tarball_top_directory(local, core_tarball.url))
        phase(f"fetch: {local.name} checked")
    existed = out_dir.is_dir()
    before = set(os.listdir(out_dir)) if existed else set()
    try:
        return _build(lock, core_tree, out_dir, core_image=core_image, tarball_top=tarball_top,
                      core_tarball=core_tarball, previous=previous, tick=tick, say=say, phase=phase)
    except (OSError, DiskFull) as exc:  # a full disk anywhere in the build: no artifact of it is left
        if not is_disk_full(exc):
            raise
        remove_new(out_dir, existed, before)
        if isinstance(exc, DiskFull):
            raise
        raise disk_full(out_dir, f"building release {lock.core_version}", exc) from exc


def _build(lock: Lock, core_tree: Path | None, out_dir: Path, *, core_image: str | None,
           tarball_top: tuple[Path, str] | None, core_tarball: coretree.CoreTarball | None,
           previous: Path | None, tick: Callable[[int], None] | None, say: Callable[[str], None] | None,
           phase: Callable[[str], None]) -> list[Artifact]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mwrelease-build-", dir=out_dir) as tmp, _Removal() as removal:
        stage = Path(tmp, "tree")
        if core_tree is not None:
            coretree.materialize(core_tree, stage)
        elif core_image is not None:
            coretree.extract_from_image(core_image, stage)
        else:
            assert tarball_top is not None
            coretree.extract_from_tarball(*tarball_top, stage)
        version = mwtree.core_version_of(stage)
        if version != lock.core_version:
            raise ConfigError(f"The core tree is MediaWiki {version}, but the lock {lock.bundle!r} is for "
                              f"{lock.core_version}.", hint="Use the core tree of the lock's version, or resolve "
                              f"the bundle again with `mwrelease resolve ... --core {version}`.")
        phase(f"core: MediaWiki {version} staged from {core_tree or core_image or 'the tarball'}")
        components = _add_components(lock, stage, say=say)
        phase(f"components: {sum(1 for c in lock.components if c.source.type != 'bundled')} put in place, "
              f"{len(components)} extensions and skins in the tree")
        php_req = mwtree.php_requirement_of(stage)
        items = list_tree(stage)
        phase(f"hash: {len(items)} files listed (hashed in the read that writes them into the tarball)")
        line = line_of(version)
        name = f"mediawiki-{version}"
        tar_name, manifest_name = artifact_names(version)
        tarball = out_dir / tar_name
        digest, sums = write_tree_tarball(tarball, stage, f"{name}/", items, progress=tick)
        entries = [it.entry(sums.get(it.path)) for it in items]
        phase(f"compress: {tar_name} ({tarball.stat().st_size / 1e6:.1f} MB)")
        if previous is None:  # the stage's last reader is done: its unlinks overlap writing the manifest
            removal.start(stage)
        manifest = Manifest(
            name=name, kind="full", core_version=version, core_line=line, files=tuple(entries),
            bundle=lock.bundle, php_requirement=php_req, databases=tuple(lock.databases), php_tested=tuple(lock.php),
            upgrades_from_lines=tuple(upgrades_from(line)), upgrades_from_min=f"{upgrades_from(line)[0]}.0",
            components=tuple(components), artifact_file=tar_name, created_by=f"mwrelease {__version__}",
            core_source=core_tarball.to_json() if core_tarball is not None else None)
        manifest_path = out_dir / manifest_name
        write_atomic(manifest_path, manifest.dumps())
        phase(f"manifest: {manifest_name}")
        full = _artifact(tarball, manifest_path, manifest, digest)
        built = [full]
        if previous is not None:
            delta = build_delta(manifest, stage, Manifest.load(previous), out_dir)
            built.append(delta)
            phase(f"delta: {delta.tarball.name} ({len(delta.manifest.delta_changed)} changed, "
                  f"{len(delta.manifest.delta_removed)} removed)")
    write_sha256sums(out_dir, built)
    phase("checksums: SHA256SUMS updated")
    return built


def build_delta(new: Manifest, new_tree: Path, old: Manifest, out_dir: Path) -> Artifact:
    """An artifact with only the files that changed since ``old`` (same line), plus the list of removals."""
    if old.core_line != new.core_line or version_key(old.core_version) >= version_key(new.core_version):
        raise ConfigError(f"A delta goes from an older release of the same line: {old.core_version} -> "
                          f"{new.core_version} is not one.", hint="Pass --previous with the manifest of an older "
                          f"{new.core_line} release.")
    old_map = old.file_map()
    changed = [f for f in new.files if old_map.get(f.path) != f]
    new_paths = {f.path for f in new.files}
    removed = sorted(p for p in old_map if p not in new_paths)
    tar_name, manifest_name = artifact_names(new.core_version, old.core_version)
    delta = Manifest(
        name=new.name, kind="delta", core_version=new.core_version, core_line=new.core_line, files=new.files,
        bundle=new.bundle, php_requirement=new.php_requirement, databases=new.databases, php_tested=new.php_tested,
        upgrades_from_lines=(new.core_line,), upgrades_from_min=old.core_version, components=new.components,
        artifact_file=tar_name, delta_from=old.core_version, delta_from_tree_sha256=old.tree_sha256,
        delta_changed=tuple(f.path for f in changed), delta_removed=tuple(removed), created_by=new.created_by,
        core_source=new.core_source)
    tarball = out_dir / tar_name
    digest = write_tarball(tarball, new_tree, delta.prefix, changed)
    manifest_path = out_dir / manifest_name
    write_atomic(manifest_path, delta.dumps())
    return _artifact(tarball, manifest_path, delta, digest)


def _artifact(tarball: Path, manifest_path: Path, manifest: Manifest, sha256: str) -> Artifact:
    return Artifact(tarball=tarball, manifest_path=manifest_path, manifest=manifest,
                    sha256=sha256, size=tarball.stat().st_size)


class _Removal:
    """Removes a folder in a thread (unlink and rmdir leave the GIL free) from ``start`` on; joined on exit."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, path: Path) -> None:
        self._thread = threading.Thread(target=shutil.rmtree, args=(path,), kwargs={"ignore_errors": True},
                                        name="mwrelease-stage-removal", daemon=True)
        self._thread.start()

    def __enter__(self) -> _Removal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()  # before TemporaryDirectory removes what is left, never beside it


def _add_components(lock: Lock, stage: Path, *, say: Callable[[str], None] | None = None) -> list[Component]:
    """Put every locked extension and skin into the tree; describe every extension and skin the tree has."""
    locked: dict[tuple[str, str], LockedComponent] = {}
    for c in lock.components:
        kind_dir = stage / ("skins" if c.kind == "skin" else "extensions")
        dest = kind_dir / c.name
        if c.source.type == "bundled":
            if not dest.is_dir():
                raise ConfigError(f"The lock says {c.kind} {c.name} is bundled with core, but the core tree has no "
                                  f"{dest.relative_to(stage)}.", hint="Use the matching core tree or re-resolve.")
        else:
            with tempfile.TemporaryDirectory() as work:
                put_component(c, dest, Path(work))
            if say:  # a clone can take a while: one line per component keeps a CI log moving
                say(f"{c.kind} {c.name}{' ' + c.ref if c.ref else ''} put in place")
        locked[(c.kind, c.name)] = c
    out: list[Component] = []
    for tc in mwtree.components(stage):
        lc = locked.get((tc.kind, tc.name))
        out.append(Component(
            name=tc.name, kind=tc.kind, ref=lc.ref if lc else None, commit=lc.commit if lc else None,
            version=(lc.version if lc and lc.version else tc.version),
            source=lc.source.type if lc else "core-tree", requires_mediawiki=tc.requires_mediawiki,
            url=lc.source.url if lc and lc.source.type in ("git", "tarball") else None))
    return out


def write_sha256sums(out_dir: Path, artifacts: list[Artifact]) -> Path:
    """Add (or refresh) the lines for these artifacts and their manifests in out_dir/SHA256SUMS."""
    sums = out_dir / "SHA256SUMS"
    lines: dict[str, str] = {}
    if sums.exists():
        for ln in sums.read_text().splitlines():
            if "  " in ln:
                digest, name = ln.split("  ", 1)
                lines[name] = digest
    for a in artifacts:
        lines[a.tarball.name] = a.sha256
        lines[a.manifest_path.name] = sha256_file(a.manifest_path)
    write_atomic(sums, "".join(f"{lines[n]}  {n}\n" for n in sorted(lines)))
    return sums
