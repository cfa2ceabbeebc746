from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import (OutDir, catalog_option, csv_callback, legacy_output_option, open_catalog,
                                   pick_out_dir, split_csv)
from mwrelease.output import Result

if TYPE_CHECKING:
    from mwrelease.catalog import Catalog
    from mwrelease.report.site_model import Site


@click.group("site")
def site() -> None:
    """The compatibility site: static HTML pages of the declared and tested matrix."""


@site.command("build")
@catalog_option
@click.option("--out-dir", "out_dir", type=OutDir(),
              help="Folder to write the site into (index.html, ext/, badges/, static/, site.json); required.")
@legacy_output_option()
@click.option("--core", "cores", multiple=True, callback=csv_callback, metavar="V1,V2,...",
              help="Core versions (comma-separated or repeated); the lines of the results' cells are added.")
@click.option("--php", "php", multiple=True, callback=csv_callback, metavar="VERSION",
              help="Also check requires.platform.php against these PHP versions (comma-separated or repeated).")
@click.option("--name", "names", multiple=True, callback=csv_callback, metavar="NAME",
              help="Only these extensions/skins (comma-separated or repeated).")
@click.option("--results", "results", multiple=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Results file of `mwrelease test` (repeatable): the tested states and failing logs.")
@click.option("--seal", "seals", multiple=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Seal statement of `mwrelease seal -o` (repeatable): verdict badges per bundle and extension.")
@json_option
@reporting("site build")
def build(catalogs: tuple[str, ...], out_dir: Path | None, legacy_out_dir: Path | None, cores: tuple[str, ...], php: tuple[str, ...], names: tuple[str, ...],
          results: tuple[Path, ...], seals: tuple[Path, ...]) -> Result:
    """Build the static compatibility site into the --out-dir folder: one row per extension with the recommended ref
    per core line and "tested up to", a page per extension (refs x core x PHP x database, declared and
    tested states, failing checks' logs), badges, search and filters, and a stamp naming the tool
    version, the date and the digests of the results and seals used. Open index.html there.
    """
    output = pick_out_dir(out_dir, legacy_out_dir, required=True)
    assert output is not None
    from mwrelease import __version__
    from mwrelease.report.site import load_results, load_seal, plan_site
    from mwrelease.report.site_render import write_site

    catalog = open_catalog(catalogs)
    loaded = load_results(results)
    statements = [(str(p), load_seal(p)) for p in seals]
    # The whole catalog goes in, so requirements are checked against every source; --name narrows the pages after.
    site_value = plan_site(catalog, split_csv(cores), php=split_csv(php), results=loaded, seals=statements,
                           generated_by=f"mwrelease {__version__}")
    if names:
        site_value = only_names(site_value, catalog, names)
    written = write_site(site_value, output)
    counts = {k: v for k, v in site_value.counts.items() if v}
    text = (f"site written to {output}/index.html: {len(site_value.extensions)} extensions and skins, "
            f"core lines {', '.join(site_value.lines)}, {len(written)} files; index cells: "
            + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return Result(data={"output": str(output), "index": str(output / "index.html"), "lines": list(site_value.lines),
                        "extensions": len(site_value.extensions), "files": len(written), "counts": counts,
                        "inputs": [{"path": i.path, "what": i.what, "sha256": i.digest} for i in site_value.inputs]},
                  text=text)


def only_names(site_value: Site, catalog: Catalog, names: tuple[str, ...]) -> Site:
    """The site with only the extensions and skins ``names`` (load names or extension.json aliases) and the
    index counts recomputed for them."""
    from dataclasses import replace

    from mwrelease.report.site_model import STATES

    keep = set(names) | {c.name for n in names for c in catalog.candidates(n)}
    extensions = tuple(e for e in site_value.extensions if e.name in keep)
    counts: dict[str, int] = {s: 0 for s in STATES}
    for e in extensions:
        for line in site_value.lines:
            state = e.index_state(line)
            if state:
                counts[state] += 1
    return replace(site_value, extensions=extensions, counts=counts)
