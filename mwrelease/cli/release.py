"""`mwrelease release build`: artifacts from a lock and a core tree, core image or official core tarball."""

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
@click.option("--core-tarball", metavar="URL_OR_PATH",
              help="Take core from an official release tarball (mediawiki-X.Y.Z/ inside): a path, file:// or "
                   "http(s):// URL. Downloads are cached by sha256 under $XDG_CACHE_HOME/mwrelease/tarballs.")
@click.option("--core-sha256", metavar="HEX",
              help="The sha256 the --core-tarball must have (required with it), e.g. from the release announcement.")
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the artifacts (created when missing); SHA256SUMS there is updated.")
# The old spelling: -o is a file everywhere else (README "Command-line conventions"), so it is hidden.
@click.option("-o", "--output", "legacy_out_dir", hidden=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--previous", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest of an older release of the same line: also build a delta artifact from it.")
@json_option
@reporting("release build")
def build(lock: Path, core_tree: Path | None, core_image: str | None, core_tarball: str | None,
          core_sha256: str | None, out_dir: Path | None, legacy_out_dir: Path | None, previous: Path | None) -> Result:
    """Build mediawiki-X.Y.Z.tar.gz (upstream layout: core + locked extensions and skins + vendor),
    its manifest (every file's sha256 and mode) and SHA256SUMS from LOCK.

    Core comes from exactly one of --core-tree, --core-image or --core-tarball with --core-sha256;
    a tarball's origin and digest are recorded in the manifest (core_source).

    \b
    Exit codes: 0 built, 3 lock/core mismatch or bad option, 4 a component source or the core
    tarball cannot be read, 8 the core tarball's sha256 differs, or a tree or tarball holds a
    device, '..' path or other unsafe entry.
    """
    from mwrelease.lock import Lock
    from mwrelease.release.build import build_release
    from mwrelease.release.coretree import CoreTarball

    if (out_dir is None) == (legacy_out_dir is None):
        raise click.UsageError("Give the artifacts' folder with --out-dir DIR.")
    out_dir = out_dir or legacy_out_dir
    assert out_dir is not None
    tarball = CoreTarball.from_options(core_tarball, core_sha256)
    lk = Lock.load(lock)
    click.echo(f"building MediaWiki {lk.core_version} from {core_tree or core_image or core_tarball} ...", err=True)
    arts = build_release(lk, core_tree, out_dir, core_image=core_image, core_tarball=tarball, previous=previous,
                         say=lambda msg: click.echo(msg, err=True))
    lines = [f"{a.tarball}  {a.size / 1e6:.1f} MB  sha256 {a.sha256}  ({len(a.manifest.files)} files, {a.manifest.kind})"
             for a in arts]
    lines.append(f"{out_dir / 'SHA256SUMS'} updated")
    return Result(data={"artifacts": [a.to_json() for a in arts]}, text="\n".join(lines))
