from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import output_option
from mwrelease.output import Result


@click.group("results")
def results() -> None:
    """Work with results files of `mwrelease test`."""


@results.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_option("Write the merged results here.", required=True)
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), metavar="FILE", help="Write JUnit XML here.")
@click.option("--allow-partial", is_flag=True, help="Merge even when planned cells have no results file.")
@json_option
@reporting("results merge")
def merge(files: tuple[Path, ...], output: Path, junit_path: Path | None, allow_partial: bool) -> Result:
    """Merge the results of the cells of one plan (`mwrelease test --cell ID --results FILE`, one CI job
    each) into one results file, in the plan's order.

    Refuses results of different locks or plans (naming the files), a cell run twice with different
    outcomes, and planned cells without results (unless --allow-partial). Exit code 7 when a merged
    cell failed, as `mwrelease test`.
    """
    from mwrelease.errors import ChecksFailed
    from mwrelease.runner.fanout import load_shards, merge_shards
    from mwrelease.runner.results import junit_xml

    merged = merge_shards(load_shards(files), allow_partial=allow_partial)
    merged.dump(output)
    if junit_path:
        junit_path.write_text(junit_xml(merged))
    n = {s: sum(1 for c in merged.cells if c.status == s) for s in ("passed", "failed", "error")}
    skipped = sum(1 for c in merged.cells if c.skipped)
    missing = len(merged.planned) - len(merged.cells)
    text = (f"merged {len(files)} file(s): {n['passed']} passed, {n['failed']} failed, {n['error']} error, "
            f"{skipped} skipped" + (f", {missing} missing" if missing else "") + f"; results in {output}")
    return Result(data={"output": str(output), "digest": merged.digest(), "plan_sha256": merged.plan_sha256,
                        "cells": {c.id: c.status for c in merged.cells}},
                  text=text, exit_code=ChecksFailed.exit_code if merged.failed else 0)
