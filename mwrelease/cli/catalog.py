from __future__ import annotations

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import catalog_option, open_catalog
from mwrelease.output import Result


@click.command()
@catalog_option
@click.option("--name", "names", multiple=True, metavar="NAME", help="Only these extensions/skins.")
@json_option
@reporting("catalog")
def catalog(catalogs: tuple[str, ...], names: tuple[str, ...]) -> Result:
    """List the extensions and skins the catalog sources offer, with their refs and declared requirements."""
    cat = open_catalog(catalogs)
    selected = [c for n in (names or tuple(cat.names())) for c in cat.candidates(n)]
    data = [{"name": c.name, "kind": c.kind, "ref": c.ref, "ref_type": c.ref_type, "commit": c.commit,
             "version": c.clean_version, "requires": c.requires.to_json(), "declares_requires": c.requires.declared,
             "composer_require": dict(c.composer_require), "origin": c.origin} for c in selected]
    lines = [f"{len(selected)} refs of {len({c.name for c in selected})} extensions/skins from {', '.join(cat.sources)}"]
    lines += [f"{c.name:<28} {c.kind:<9} {(c.ref or '-'):<14} {c.ref_type:<12} MediaWiki {c.requires.mediawiki or '(not declared)'}"
              for c in selected]
    return Result(data={"sources": cat.sources, "candidates": data}, text="\n".join(lines))
