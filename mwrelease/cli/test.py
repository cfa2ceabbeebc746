from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import OutputFile, catalog_option, csv_callback, split_csv
from mwrelease.lock import Lock
from mwrelease.output import Result


@click.command("test")
@click.argument("target", metavar="BUNDLE_OR_LOCK", type=click.Path(path_type=Path))
@click.option("--core", "cores", multiple=True, callback=csv_callback, metavar="LINE|VERSION",
              help="Core lines or versions to test on, repeatable or comma-separated (default: the lock's own). "
                   "A bundle is resolved for the first one.")
@click.option("--php", "php", multiple=True, callback=csv_callback, metavar="VERSION", help="PHP versions (default: each line's image PHP).")
@click.option("--db", "dbs", multiple=True, callback=csv_callback, metavar="DB", help="sqlite, mariadb, postgres (default: sqlite).")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 32), help="Cells run at once.")
@click.option("--results", "results_path", type=OutputFile(), metavar="FILE",
              help="Write the results JSON (mwrelease.results/1) here.")
@click.option("--junit", "junit_path", type=OutputFile(), metavar="FILE", help="Write JUnit XML here.")
@click.option("--keep", is_flag=True, help="Keep the containers after the run (for debugging).")
@click.option("--no-snapshots", is_flag=True, help="Run install.php in every cell instead of reusing an installed wiki.")
@click.option("--update-timeout", default=600.0, show_default=True, metavar="SECONDS", help="Limit for update.php.")
@click.option("--plan-only", is_flag=True,
              help="Print the planned cells and exit without running anything (with --json: the plan's digest "
                   "and the runnable cells as a CI matrix).")
@click.option("--cell", "only_cells", multiple=True, callback=csv_callback, metavar="ID",
              help="Run only this cell of the plan (comma-separated or repeated; an id or slug from --plan-only): one CI job per "
                   "cell, put back together with `mwrelease results merge`.")
@click.option("--isolate", is_flag=True,
              help="One cell per component (with what it requires) instead of one for the whole lock, so a broken "
                   "component cannot hide how the others behave.")
@catalog_option
@json_option
@reporting("test")
def test(target: Path, cores: tuple[str, ...], php: tuple[str, ...], dbs: tuple[str, ...], jobs: int,
         results_path: Path | None, junit_path: Path | None, keep: bool, no_snapshots: bool,
         update_timeout: float, plan_only: bool, only_cells: tuple[str, ...], isolate: bool,
         catalogs: tuple[str, ...]) -> Result:
    """Test BUNDLE_OR_LOCK on real MediaWiki in containers: one cell per core line x PHP x database.

    Each cell installs MediaWiki, puts every extension and skin in place at its locked ref, runs
    update.php and checks siteinfo, Special:Version, smoke wikitext, an edit, load.php and the PHP logs.
    Cells the declared requirements rule out are planned as skipped-incompatible, not run.
    Exit code 7 when a required check fails.
    """
    from mwrelease import __version__
    from mwrelease.cli.options import open_bundle_catalog
    from mwrelease.runner.cell import CellOptions
    from mwrelease.runner.session import plan_session, run_session
    from mwrelease.runner.snapshots import default_snapshot_dir

    session = plan_session(target, cores=split_csv(cores), php=split_csv(php), dbs=split_csv(dbs), isolate=isolate,
                           catalog_for=lambda spec: open_bundle_catalog(spec, catalogs))
    from dataclasses import replace

    from mwrelease.runner.fanout import fanout_plan, select, stamp

    # Every run is stamped with its plan, so a full run's results and the shards of a fanned-out
    # one can be compared and merged.
    shard = select(session.cells, only_cells or [c.id for c in session.cells])
    session = replace(session, cells=shard.cells)
    cells = session.cells
    if plan_only:
        return Result(data=fanout_plan(cells), text="\n".join(
            f"{c.id:<48} {c.status}" + "".join(f"\n    {r.message}" for r in c.reasons) for c in cells))
    # (--plan-only lists every reason; the run's summary shows the first three.)

    from mwrelease.fsutil import write_atomic
    from mwrelease.runner.engine import Engine
    from mwrelease.runner.results import CellResult, Results, junit_xml, lock_summary, now_iso

    engine = Engine.connect()
    options = CellOptions(keep=keep, update_timeout=update_timeout,
                          snapshot_dir=None if no_snapshots else default_snapshot_dir())
    from mwrelease.cli.progress import Progress, session_callbacks

    def write(res: Results) -> None:
        if results_path:
            res.dump(results_path)
        if junit_path:
            write_atomic(junit_path, junit_xml(res))

    # The files are written as each cell finishes (with an empty "finished" stamp until the run is complete),
    # so a wrong path fails at the first cell and an interrupted run keeps what it learnt.
    done: list[CellResult] = []
    partial = Results(cells=(), locks=(lock_summary(cells[0]),) if cells else (), started=now_iso(),
                      generated_by=f"mwrelease {__version__}")
    with Progress("cells", total=len(cells)) as progress:
        callbacks = session_callbacks(progress, jobs)
        report = callbacks["on_cell"]

        def on_cell(r: CellResult) -> None:
            report(r)
            done.append(r)
            write(stamp(replace(partial, cells=tuple(done)), shard))

        callbacks["on_cell"] = on_cell
        outcome = run_session(session, engine, jobs=jobs, options=options, generated_by=f"mwrelease {__version__}",
                              **callbacks)
    res = stamp(outcome.results, shard)
    results = outcome.cells
    write(res)

    def text() -> str:
        out = []
        for r in results:
            out.append(f"{r.status:<20} {r.id}  {r.duration:.0f} s" + (" (warm)" if r.warm else ""))
            # A component that breaks a shared service (ResourceLoader, the skin) fails many checks of
            # other components: show those grouped under the culprit instead of one line each.
            collateral: dict[str, list[str]] = {}
            shown = 0
            for c in r.failed_required:
                if c.component and c.blame and c.component not in c.blame:
                    collateral.setdefault(", ".join(c.blame), []).append(c.name)
                    continue
                shown += 1
                if shown > 12:
                    continue
                blame = f" [{', '.join(c.blame)}]" if c.blame else ""
                out.append(f"    {c.status:<7} {c.name}{blame}: {c.message[:200]}")
            if shown > 12:
                out.append(f"    ... and {shown - 12} more failed checks (see the results file)")
            for culprit, names in collateral.items():
                out.append(f"    {len(names)} more check(s) of other components failed because of {culprit}: "
                           + ", ".join(names[:4]) + (" ..." if len(names) > 4 else ""))
            for reason in r.reasons[:3]:
                out.append(f"    {reason.get('message', '')}")
            if len(r.reasons) > 3:
                out.append(f"    ... and {len(r.reasons) - 3} more reasons (see --plan-only)")
        n = outcome.counts()
        out.append(f"{n['passed']} passed, {n['failed']} failed, {n['error']} error, {n['skipped']} skipped"
                   + (f"; results in {results_path}" if results_path else "")
                   + (f"; JUnit in {junit_path}" if junit_path else ""))
        return "\n".join(out)

    return Result(data=res.to_json(), text=text, exit_code=outcome.exit_code)

