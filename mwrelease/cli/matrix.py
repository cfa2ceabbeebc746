from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import catalog_option, csv_callback, open_catalog, output_option, split_csv
from mwrelease.output import Result, dump_json


@click.command()
@catalog_option
@click.option("--core", "cores", required=True, multiple=True, callback=csv_callback, metavar="V1,V2,...", help="Core versions (comma-separated or repeated).")
@click.option("--php", "php", multiple=True, callback=csv_callback, metavar="VERSION", help="Also check requires.platform.php against these PHP versions.")
@click.option("--name", "names", multiple=True, callback=csv_callback, metavar="NAME", help="Only these extensions/skins (repeatable).")
@click.option("--results", "results", multiple=True, type=click.Path(path_type=Path, exists=True),
              help="Results files of `mwrelease test`: adds the tested status beside the declared one.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]), default="table", show_default=True)
@output_option("Write the rendering to this file instead of stdout (missing folders are created).")
@json_option
@reporting("matrix")
def matrix(catalogs: tuple[str, ...], cores: tuple[str, ...], php: tuple[str, ...], names: tuple[str, ...],
           results: tuple[Path, ...], fmt: str, output: Path | None) -> Result:
    """The declared compatibility matrix: for every catalog entry (name, ref) and every core version,
    whether its extension.json `requires` admit it (compatible, incompatible with MediaWiki's reason codes,
    or unknown when it declares nothing). With --results, the tested status from container runs too.

    JSON rows: name, kind, ref, ref_type, commit, version, core, php, status, reasons[{code, message}],
    tested, tested_detail.
    """
    from mwrelease.matrix import declared_matrix, summary
    from mwrelease.report.matrix_render import render_html, render_table

    from mwrelease.runner.plan import parse_core

    for core in split_csv(cores):  # "1.43.x" is a typo, not a constraint every extension fails: exit 3 like resolve/test
        parse_core(core)
    catalog = open_catalog(catalogs)
    # --name narrows the rows, not the catalog: requirements are checked against every source.
    rows = declared_matrix(catalog, split_csv(cores), php=split_csv(php), names=list(names) if names else None)
    if results:
        from mwrelease.matrix import results_index, with_tested

        rows = with_tested(rows, results_index(list(results)))
    data = [r.to_json() for r in rows]
    rendering = {
        "json": lambda: dump_json(data),
        "markdown": lambda: render_table(rows, markdown=True),
        "html": lambda: render_html(rows),
        "table": lambda: render_table(rows),
    }[fmt]()
    if output:
        output.write_text(rendering + "\n")
    counts = summary(rows)
    text = (f"matrix written to {output}: " + "; ".join(f"{core}: {c['compatible']} compatible, {c['incompatible']} incompatible, "
                                                      f"{c['unknown']} unknown" for core, c in counts.items())) if output else rendering
    return Result(data={"rows": data, "summary": counts}, text=text)
