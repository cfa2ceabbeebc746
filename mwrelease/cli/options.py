"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.bundle import Bundle
from mwrelease.catalog import Catalog, default_snapshot_dir, load_catalog
from mwrelease.errors import ConfigError

catalog_option = click.option(
    "--catalog", "catalogs", multiple=True, metavar="SRC",
    help="Catalog source, repeatable: a snapshot dir, extension trees, a core tree (core:DIR) or a git URL. "
         "Default: $MWRELEASE_CATALOG or ../shared/data/extension-metadata.")


def open_catalog(specs: tuple[str, ...], extra: tuple[str, ...] = ()) -> Catalog:
    """The given sources (or the default snapshot directory when none), plus ``extra`` (a bundle's own)."""
    if not specs:
        default = default_snapshot_dir()
        if default is None:
            raise ConfigError("No catalog source given and no default snapshot directory found.",
                              hint="Pass --catalog DIR (or set MWRELEASE_CATALOG).")
        specs = (str(default),)
    return load_catalog(specs + extra)


def split_csv(values: tuple[str, ...] | str | None) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = (values,)
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def open_bundle_catalog(bundle: Bundle, specs: tuple[str, ...]) -> Catalog:
    """``open_catalog`` plus the sources a bundle names itself (git URLs and paths of its entries)."""
    own = set()
    for c in bundle.components:
        if c.source.type == "git" and c.source.url:
            own.add(f"git:{c.source.url}")
        elif c.source.type == "path" and c.source.path:
            own.add(f"tree:{Path(c.source.path).parent}")
    return open_catalog(specs, tuple(sorted(own)))
