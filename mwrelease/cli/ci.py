from __future__ import annotations

import json
from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result


class CiGroup(click.Group):
    """`mwrelease ci [PATH]` runs the checkout's cells; `mwrelease ci init|gitlab-cells` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("ci", cls=CiGroup)
def ci() -> None:
    """Compatibility CI: test an extension checkout (`mwrelease ci [PATH]`), or write a CI workflow that
    fans a lock's cells out over the CI's runners (`mwrelease ci init --github|--gitlab`)."""


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
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="The child pipeline file.")
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
