from __future__ import annotations

from typing import Any

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import csv_callback, csv_choice
from mwrelease.output import Result

base_source_option = click.option(
    "--base-source", type=click.Choice(["debootstrap", "registry"]), default=None,
    help="Where base images come from: debootstrap (mwrelease/base:SUITE, made by ci/prepare-machine.sh) or "
         "registry (debian:SUITE). Default: $MWRELEASE_BASE_IMAGES, else debootstrap.")


@click.group("images")
def images() -> None:
    """Build, list and prune the container images per MediaWiki line (core) and database."""


@images.command("build")
@click.option("--line", "lines", multiple=True, callback=csv_callback, metavar="X.Y",
              help="MediaWiki line (1.35, 1.39, 1.43); repeat for several. Default: 1.39 and 1.43.")
@click.option("--recipe", type=click.Choice(["debian-package", "tarball"]), default="debian-package",
              show_default=True, help="How core gets into the image.")
# --core-tarball/--core-sha256 as in `release build`; the first spellings stay accepted.
@click.option("--core-tarball", "--tarball", "tarball_url", metavar="URL|PATH", help="Release tarball for --recipe tarball.")
@click.option("--core-sha256", "--sha256", "sha256", help="Expected sha256 of --core-tarball.")
@click.option("--version", "tarball_version", metavar="X.Y.Z", help="MediaWiki version of --core-tarball.")
@click.option("--db", "dbs", multiple=True, callback=csv_choice("mariadb", "postgres"), metavar="mariadb|postgres",
              help="Also build this database image; repeat for both.")
@click.option("--with-db", is_flag=True, help="Also build both database images.")
@click.option("--force", is_flag=True, help="Rebuild from scratch (no layer cache) even when an image with the same content key exists.")
@click.option("-v", "--verbose", is_flag=True, help="Show the full build output.")
@base_source_option
@json_option
@reporting("images build")
def build(lines: tuple[str, ...], recipe: str, tarball_url: str | None, sha256: str | None,
          tarball_version: str | None, dbs: tuple[str, ...], with_db: bool, force: bool, verbose: bool,
          base_source: str | None) -> Result:
    """Build core images (and database images); images whose recipe did not change are reused."""
    from mwrelease.errors import ConfigError
    from mwrelease.runner import images as im
    from mwrelease.runner.engine import Engine

    source = im.base_source_setting(base_source)
    recipes: list[im.Recipe] = []
    if recipe == "tarball":
        if not (tarball_url and sha256 and tarball_version):
            raise ConfigError("--recipe tarball needs --core-tarball, --core-sha256 and --version.")
        tb = im.Tarball(url=tarball_url, sha256=sha256, version=tarball_version)
        recipes.append(im.tarball_recipe(tb, source=source, data=im.fetch_tarball(tb)))
    else:
        for line in lines or im.DEFAULT_LINES:
            recipes.append(im.debian_package_recipe(line, source=source))
    for kind in ("mariadb", "postgres") if with_db else dbs:
        recipes.append(im.db_recipe(kind, source=source))  # type: ignore[arg-type]

    from mwrelease.cli.progress import BuildSteps, Progress, elapsed

    engine = Engine.connect()
    built: list[im.BuiltImage] = []
    with Progress("images", total=len(recipes)) as progress:
        for r in recipes:
            progress.note(f"==> {r.alias} ({r.name}, base {r.base})")
            progress.doing(r.alias)
            b = im.ensure_image(engine, r, force=force, on_line=BuildSteps(progress, r.alias, verbose=verbose))
            progress.done(f"{'cached' if b.cached else 'built'} {b.tag} ({elapsed(b.seconds)})")
            built.append(b)

    def text() -> str:
        rows = []
        for b in built:
            what = b.labels.get("mwrelease.mediawiki.version") or b.labels.get("mwrelease.db.version") or ""
            php = b.labels.get("mwrelease.php.version", "")
            rows.append(f"{b.tag:<52} {'cached' if b.cached else 'built':<6} {b.seconds:7.1f}s  "
                        f"{what}{'  PHP ' + php if php else ''}")
        return "\n".join(rows)

    return Result(data={"images": [b.to_json() for b in built], "base_source": source}, text=text)


@images.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list base images.")
@json_option
@reporting("images list")
def list_(show_all: bool) -> Result:
    """List mwrelease images with their MediaWiki and PHP versions."""
    from mwrelease.runner.engine import Engine

    engine = Engine.connect()
    imgs = [i for i in engine.list_images("mwrelease") if show_all or i.labels.get("mwrelease.kind") != "base"]
    imgs.sort(key=lambda i: (i.labels.get("mwrelease.kind", ""), i.tags))

    def text() -> str:
        if not imgs:
            return "No mwrelease images. Build them with `mwrelease images build`."
        out = []
        for i in imgs:
            lab = i.labels
            desc = " ".join(filter(None, [
                lab.get("mwrelease.kind"), lab.get("mwrelease.recipe") or lab.get("mwrelease.db"),
                f"MediaWiki {lab['mwrelease.mediawiki.version']}" if "mwrelease.mediawiki.version" in lab else "",
                f"PHP {lab['mwrelease.php.version']}" if "mwrelease.php.version" in lab else "",
                lab.get("mwrelease.db.version", ""), lab.get("mwrelease.suite", "")]))
            out.append(f"{', '.join(i.tags) or i.id[:19]}\n    {desc}  {i.size / 1e6:.0f} MB")
        return "\n".join(out)

    data: list[dict[str, Any]] = [i.to_json() for i in imgs]
    return Result(data={"images": data}, text=text)


@images.command("prune")
@click.option("--all", "remove_all", is_flag=True, help="Remove current images too (base images are kept).")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option("--containers/--no-containers", default=True, show_default=True,
              help="Also remove stray mwrelease containers (left by runs that were killed).")
@base_source_option
@json_option
@reporting("images prune")
def prune(remove_all: bool, dry_run: bool, containers: bool, base_source: str | None) -> Result:
    """Remove images built from old recipes (and stray containers)."""
    from mwrelease.runner import images as im
    from mwrelease.runner.engine import Engine

    engine = Engine.connect()
    strays = 0
    if containers:
        strays = len(engine.strays()) if dry_run else engine.remove_strays()
    removed = im.prune(engine, keep_current=not remove_all, source=im.base_source_setting(base_source),
                       dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {t}" for t in removed] + [f"{verb} {strays} stray container(s)"]
    return Result(data={"removed_images": removed, "stray_containers": strays, "dry_run": dry_run},
                  text="\n".join(lines))


__all__ = ["images"]
