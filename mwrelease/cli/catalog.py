"""`mwrelease catalog list|show`: what the catalog sources offer. `mwrelease catalog [--catalog ...]` without a
subcommand still lists (the old invocation)."""

from __future__ import annotations

from typing import Any

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import catalog_option, csv_callback, open_catalog
from mwrelease.errors import ConfigError
from mwrelease.output import Result


class _ListByDefault(click.Group):
    """`catalog --catalog X` (no subcommand, the command's old form) means `catalog list --catalog X`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Not while completing: `catalog <TAB>` should offer list and show.
        if not ctx.resilient_parsing and (not args or (args[0] not in self.commands
                                                       and args[0] not in ("-h", "--help"))):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault)
def catalog() -> None:
    """List what the catalog sources offer (`list`), or every ref of one extension or skin (`show`)."""


def _candidate_json(c: Any) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "ref": c.ref, "ref_type": c.ref_type, "commit": c.commit,
            "version": c.clean_version, "requires": c.requires.to_json(), "declares_requires": c.requires.declared,
            "composer_require": dict(c.composer_require), "origin": c.origin}


@catalog.command("list")
@catalog_option
@click.option("--name", "names", multiple=True, metavar="NAME", callback=csv_callback,
              help="Only these extensions/skins (comma-separated or repeated).")
@json_option
@reporting("catalog list")
def list_(catalogs: tuple[str, ...], names: tuple[str, ...]) -> Result:
    """List the extensions and skins the catalog sources offer, with their refs and declared requirements."""
    cat = open_catalog(catalogs)
    selected = [c for n in (names or tuple(cat.names())) for c in cat.candidates(n)]
    lines = [f"{len(selected)} refs of {len({c.name for c in selected})} extensions/skins from {', '.join(cat.sources)}"]
    lines += [f"{c.name:<28} {c.kind:<9} {(c.ref or '-'):<14} {c.ref_type:<12} MediaWiki {c.requires.mediawiki or '(not declared)'}"
              for c in selected]
    return Result(data={"sources": cat.sources, "candidates": [_candidate_json(c) for c in selected]},
                  text="\n".join(lines))


@catalog.command("show")
@click.argument("name")
@catalog_option
@json_option
@reporting("catalog show")
def show(name: str, catalogs: tuple[str, ...]) -> Result:
    """Every ref of one extension or skin: version, commit, declared requirements, origin."""
    cat = open_catalog(catalogs)
    found = list(cat.candidates(name))
    if not found:
        raise ConfigError(f"The catalog has no extension or skin named {name!r}.",
                          hint="`mwrelease catalog list` lists what it has (names are case-sensitive).")
    lines = [f"{name} ({found[0].kind}): {len(found)} ref(s)"]
    for c in found:
        lines.append(f"  {(c.ref or '-'):<14} {c.ref_type:<10} version {c.clean_version or '?'}  commit {c.commit or '-'}")
        lines.append(f"    requires MediaWiki {c.requires.mediawiki or '(not declared)'}; from {c.origin}")
    return Result(data={"name": name, "candidates": [_candidate_json(c) for c in found]}, text="\n".join(lines))
