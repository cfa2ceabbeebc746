"""`mwrelease release build`: artifacts from a lock and a core tree."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result


@click.group("release")
def release() -> None:
    """Build release artifacts (tarball, manifest, SHA256SUMS, delta)."""


@release.command("build")
@click.argument("lock", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--core-tree", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Core in the upstream layout (or Debian's /usr/share/mediawiki; symlinks are resolved).")
@click.option("--core-image", help="Take core from this core image's /usr/share/mediawiki instead (needs Docker).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the artifacts; SHA256SUMS there is updated.")
@click.option("--previous", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest of an older release of the same line: also build a delta artifact from it.")
@json_option
@reporting("release build")
def build(lock: Path, core_tree: Path | None, core_image: str | None, out_dir: Path, previous: Path | None) -> Result:
    """Build mediawiki-X.Y.Z.tar.gz (upstream layout: core + locked extensions and skins + vendor),
    its manifest (every file's sha256 and mode) and SHA256SUMS from LOCK.

    \b
    Exit codes: 0 built, 3 lock/core mismatch or bad option, 4 a component source cannot be read,
    8 a tree contains a device or other unsafe entry.
    """
    from mwrelease.lock import Lock
    from mwrelease.release.build import build_release

    lk = Lock.load(lock)
    click.echo(f"building MediaWiki {lk.core_version} from {core_tree or core_image} ...", err=True)
    arts = build_release(lk, core_tree, out_dir, core_image=core_image, previous=previous)
    lines = [f"{a.tarball}  {a.size / 1e6:.1f} MB  sha256 {a.sha256}  ({len(a.manifest.files)} files, {a.manifest.kind})"
             for a in arts]
    lines.append(f"{out_dir / 'SHA256SUMS'} updated")
    return Result(data={"artifacts": [a.to_json() for a in arts]}, text="\n".join(lines))
