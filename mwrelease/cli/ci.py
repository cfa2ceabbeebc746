from __future__ import annotations

import json
from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import catalog_option, csv_callback, output_option
from mwrelease.output import Result


class CiGroup(click.Group):
    """`mwrelease ci [PATH]` runs the checkout's cells; `mwrelease ci init|gitlab-cells` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("ci", cls=CiGroup)
def ci() -> None:
    """Compatibility CI: test an extension checkout (`mwrelease ci [PATH]`, short for `mwrelease ci run
    [PATH]`: see `mwrelease ci run --help` for its options), or write a CI workflow that fans a lock's cells
    out over the CI's runners (`mwrelease ci init --github|--gitlab`)."""


@ci.command("init")
@click.option("--github", "flavour", flag_value="github", help="Write .github/workflows/mwrelease.yml.")
@click.option("--gitlab", "flavour", flag_value="gitlab", help="Write .gitlab-ci.yml.")
@click.option("--lock", "lock", default="bundle.lock", show_default=True, help="The lock every job tests.")
@click.option("--test-options", default="--db sqlite", show_default=True,
              help="Options of `mwrelease test` for the plan and every cell (--core, --db, --isolate ...).")
@click.option("--install", default="pip install mwrelease", show_default=True, help="How a job installs mwrelease.")
@click.option("--dir", "directory", default=".", type=click.Path(path_type=Path, file_okay=False),
              help="The repository to write into.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@reporting("ci init")
def init(flavour: str | None, lock: str, test_options: str, install: str, directory: Path, force: bool) -> Result:
    """Write a CI workflow: a plan job, one job per cell (the CI's matrix), a merge job (merge, seal, JUnit)."""
    from mwrelease.ci.workflows import GITHUB_PATH, GITLAB_PATH, WorkflowOptions, github_workflow, gitlab_pipeline
    from mwrelease.errors import ConfigError

    if flavour is None:
        raise ConfigError("Say which CI to write for.", hint="mwrelease ci init --github (or --gitlab)")
    opts = WorkflowOptions(lock=lock, test_options=test_options, install=install)
    rel, text = (GITHUB_PATH, github_workflow(opts)) if flavour == "github" else (GITLAB_PATH, gitlab_pipeline(opts))
    path = directory / rel
    if path.exists() and not force:
        raise ConfigError(f"{path} exists.", hint="Pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return Result(data={"path": str(path), "ci": flavour}, text=f"wrote {path}")


@ci.command("gitlab-cells")
@click.argument("plan_file", metavar="PLAN_JSON", type=click.Path(path_type=Path, dir_okay=False))
@output_option("The child pipeline file.", required=True)
@click.option("--install", default="pip install mwrelease", show_default=True, help="How a job installs mwrelease.")
@json_option
@reporting("ci gitlab-cells")
def gitlab_cells(plan_file: Path, output: Path, install: str) -> Result:
    """Write GitLab's child pipeline for PLAN_JSON (`mwrelease test --plan-only --json`): a job per cell
    and the merge job. Lock and test options come from $MWRELEASE_LOCK and $MWRELEASE_TEST_OPTIONS."""
    import os

    from mwrelease.ci.workflows import WorkflowOptions, gitlab_child_pipeline
    from mwrelease.errors import ConfigError

    try:
        doc = json.loads(plan_file.read_text())
        plan = doc.get("data", doc)
        plan["matrix"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{plan_file} is not the output of `mwrelease test --plan-only --json`: {exc}") from None
    opts = WorkflowOptions(lock=os.environ.get("MWRELEASE_LOCK", "bundle.lock"),
                           test_options=os.environ.get("MWRELEASE_TEST_OPTIONS", ""), install=install)
    output.write_text(gitlab_child_pipeline(plan, opts))
    return Result(data={"path": str(output), "jobs": len(plan["matrix"])},
                  text=f"wrote {output} ({len(plan['matrix'])} cell job(s))")


@ci.command("run")
@click.argument("path", default=".", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--line", "lines", multiple=True, callback=csv_callback, metavar="LINE",
              help="MediaWiki lines to test, comma-separated or repeated (default: every line with an image that requires.MediaWiki admits).")
@click.option("--with", "withs", multiple=True, callback=csv_callback, metavar="NAME=SOURCE",
              help="Add or pin a component: bundled, catalog, @REF, a git URL or a directory. Comma-separated or "
                   "repeated.")
@click.option("--db", "dbs", multiple=True, callback=csv_callback, metavar="DB",
              help="sqlite, mariadb, postgres, comma-separated or repeated (default: .mwrelease.yaml databases, "
                   "else sqlite).")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 32), help="Cells run at once.")
@click.option("--out-dir", "out_dir", default=".mwrelease-ci", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for results.json, junit.xml, summary.md, badge.svg (and GitLab's code-quality report).")
# The old spelling, hidden: a folder is --out-dir everywhere (README "Command-line conventions").
@click.option("--out", "legacy_out_dir", hidden=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--plan-only", is_flag=True, help="Print the lines and cells and exit.")
@catalog_option
@json_option
@reporting("ci")
def run(path: Path, lines: tuple[str, ...], withs: tuple[str, ...], dbs: tuple[str, ...], jobs: int,
        out_dir: Path, legacy_out_dir: Path | None, plan_only: bool, catalogs: tuple[str, ...]) -> Result:
    """Test the extension or skin checkout at PATH (default: here), working tree as it is, on every
    MediaWiki line it admits, each in isolated cells. Exit code 7 when a cell fails, as `mwrelease test`."""
    import os

    from mwrelease import __version__
    from mwrelease.ci import report
    from mwrelease.ci.extension import choose_lines, load_config, parse_with, plan_ci, read_checkout
    from mwrelease.cli.options import open_catalog, split_csv
    from mwrelease.errors import ChecksFailed
    from mwrelease.runner.results import junit_xml, merge

    checkout = read_checkout(path)
    config = load_config(checkout.path)
    chosen, not_tested = choose_lines(checkout, config, split_csv(lines))
    # Libraries Packagist would have to supply: such a line is "needs-composer", neither passed nor failed.
    from mwrelease.ci.composer import core_packages, core_tree_for, missing_libraries

    needs_composer: dict[str, list[str]] = {}
    for line in list(chosen):
        tree = core_tree_for(line, catalogs)
        missing = missing_libraries(checkout.path, core_packages(tree) if tree else None)
        if missing:
            needs_composer[line] = missing
            chosen.remove(line)
            not_tested[line] = (f"needs-composer: {', '.join(missing)} (not in core's vendor/ nor the checkout's; "
                                "Packagist cannot be reached here)")
    sessions = plan_ci(checkout, config, catalog=open_catalog(catalogs), lines=chosen, withs=parse_with(withs),
                       dbs=split_csv(dbs)) if chosen else []
    cells = [c for s in sessions for c in s.cells]
    if plan_only:
        return Result(data={"name": checkout.name, "lines": chosen, "not_tested": not_tested,
                            "needs_composer": needs_composer, "cells": [c.to_json() for c in cells],
                            "locks": [s.lock.to_json() for s in sessions]},
                      text="\n".join([f"{c.id:<56} {c.status}" for c in cells]
                                     + [f"MediaWiki {k}: not tested ({v})" for k, v in not_tested.items()]))

    from mwrelease.runner.cell import CellOptions
    from mwrelease.runner.engine import Engine
    from mwrelease.runner.session import run_session
    from mwrelease.runner.snapshots import default_snapshot_dir

    engine = Engine.connect()
    options = CellOptions(snapshot_dir=default_snapshot_dir())
    from mwrelease.cli.progress import Progress, session_callbacks

    with Progress("cells", total=len(cells)) as progress:
        outcomes = [run_session(s, engine, jobs=jobs, options=options, generated_by=f"mwrelease {__version__}",
                                **session_callbacks(progress, jobs))
                    for s in sessions if s.cells]
    res = merge(o.results for o in outcomes)
    out_dir = legacy_out_dir or out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    res.dump(out_dir / "results.json")
    (out_dir / "junit.xml").write_text(junit_xml(res))
    summary = report.markdown(res, checkout.name, not_tested)
    (out_dir / "summary.md").write_text(summary)
    (out_dir / "badge.svg").write_text(report.badge(res.cells, needs_composer=bool(needs_composer)))
    notes = report.annotate(res, checkout.name, kind=checkout.kind, manifest=checkout.manifest)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as fh:
            fh.write(summary)
    if os.environ.get("GITHUB_ACTIONS"):
        # Workflow commands on stdout; with --json stdout is the document, so they go to stderr, which
        # the runner reads for commands too.
        as_json = bool(click.get_current_context().params.get("as_json"))
        for n in notes:
            click.echo(n.github(), err=as_json)
    if os.environ.get("GITLAB_CI"):
        (out_dir / "gl-code-quality-report.json").write_text(report.codequality(notes))
    text = "\n".join([f"{c.status:<20} {c.id}" + "".join(f"\n    {k.name}: {k.message[:160]}"
                                                        for k in c.failed_required[:6]) for c in res.cells]
                     + [f"MediaWiki {k}: not tested ({v})" for k, v in not_tested.items()]
                     + [f"{checkout.name}: {report.overall(res.cells)}; results in {out_dir}"])
    return Result(data={"name": checkout.name, "lines": chosen, "not_tested": not_tested,
                        "needs_composer": needs_composer, "results": res.to_json(),
                        "annotations": [n.__dict__ for n in notes]},
                  text=text, exit_code=ChecksFailed.exit_code if res.failed else 0)
