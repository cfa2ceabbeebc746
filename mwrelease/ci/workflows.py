"""CI workflow files that fan a test session out over the CI's own runners. Pure: data in, YAML out.

    text = github_workflow(WorkflowOptions(lock="bundle.lock", test_options="--db sqlite,mariadb"))

GitHub Actions: a ``plan`` job prints the cell list (``mwrelease test --plan-only --json``) as a job
output, a ``cell`` job per cell (a dynamic ``strategy.matrix`` from that output) runs ``--cell ID``
and uploads its results, and a ``merge`` job merges them (refusing shards of other plans), seals them
and writes JUnit. GitLab CI has no dynamic matrix: its ``plan`` job writes a child pipeline with one
job per cell plus the merge job (``gitlab_child_pipeline``), which a trigger job runs.

Values from the plan (cell ids) reach shell commands only through environment variables, never
through ``${{ }}`` expansion inside a script, so a cell id cannot inject shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

GITHUB_PATH = ".github/workflows/mwrelease.yml"
GITLAB_PATH = ".gitlab-ci.yml"


@dataclass(frozen=True, kw_only=True)
class WorkflowOptions:
    lock: str                       # the lock (or bundle with --core) every job tests
    test_options: str = ""          # the same options for the plan and every cell: --core, --db, --isolate ...
    install: str = "pip install mwrelease"
    python: str = "3.12"
    catalog: str = ""               # --catalog for a bundle (every job must resolve alike)


def _test_cmd(opts: WorkflowOptions, tail: str) -> str:
    catalog = f" --catalog {shlex.quote(opts.catalog)}" if opts.catalog else ""
    return f'mwrelease test "$MWRELEASE_LOCK" $MWRELEASE_TEST_OPTIONS{catalog} {tail}'


PLAN_TO_OUTPUT = ("python3 -c 'import json,sys; print(\"cells=\" + json.dumps(json.load(open(\"plan.json\"))"
                  "[\"data\"][\"matrix\"], separators=(\",\", \":\")))' >> \"$GITHUB_OUTPUT\"")


def github_workflow(opts: WorkflowOptions) -> str:
    setup: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": opts.python}},
        {"name": "Install mwrelease", "run": opts.install},
    ]
    doc: dict[str, Any] = {
        "name": "mwrelease",
        "on": {"push": None, "pull_request": None, "workflow_dispatch": None},
        "permissions": {"contents": "read"},
        "env": {"MWRELEASE_LOCK": opts.lock, "MWRELEASE_TEST_OPTIONS": opts.test_options},
        "jobs": {
            "plan": {
                "runs-on": "ubuntu-latest",
                "outputs": {"cells": "${{ steps.plan.outputs.cells }}"},
                "steps": setup + [
                    {"id": "plan", "name": "Plan the cells",
                     "run": _test_cmd(opts, "--plan-only --json > plan.json") + "\n" + PLAN_TO_OUTPUT},
                    {"uses": "actions/upload-artifact@v4", "with": {"name": "plan", "path": "plan.json"}},
                ],
            },
            "cell": {
                "needs": "plan",
                "if": "${{ needs.plan.outputs.cells != '[]' }}",
                "name": "${{ matrix.cell }}",
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 60,
                "strategy": {"fail-fast": False, "matrix": {"include": "${{ fromJSON(needs.plan.outputs.cells) }}"}},
                "env": {"CELL": "${{ matrix.cell }}", "SLUG": "${{ matrix.slug }}"},
                "steps": setup + [
                    {"name": "Test the cell",
                     "run": _test_cmd(opts, '--jobs 1 --cell "$CELL" --results "cell-$SLUG.json"')},
                    {"if": "${{ always() }}", "uses": "actions/upload-artifact@v4",
                     "with": {"name": "cell-${{ matrix.slug }}", "path": "cell-${{ matrix.slug }}.json",
                              "if-no-files-found": "warn"}},
                ],
            },
            "merge": {
                "needs": ["plan", "cell"],
                "if": "${{ !cancelled() && needs.plan.result == 'success' }}",
                "runs-on": "ubuntu-latest",
                "steps": setup + [
                    {"uses": "actions/download-artifact@v4",
                     "with": {"pattern": "cell-*", "path": "cells", "merge-multiple": True}},
                    {"name": "Merge, seal, JUnit", "run": MERGE_SCRIPT},
                    {"if": "${{ always() }}", "uses": "actions/upload-artifact@v4",
                     "with": {"name": "mwrelease-results", "path": "out/", "if-no-files-found": "warn"}},
                ],
            },
        },
    }
    return HEADER + _dump(doc)


MERGE_SCRIPT = """mkdir -p out
mwrelease results merge cells/*.json -o out/results.json --junit out/junit.xml
mwrelease seal out/results.json -o out/seal.json --html out/matrix.html --badges out/badges
"""

HEADER = ("# Written by `mwrelease ci init`: plan -> one job per cell -> merge, seal, JUnit.\n"
          "# Edit MWRELEASE_LOCK and MWRELEASE_TEST_OPTIONS; every job uses the same ones, so the shards\n"
          "# belong to one plan (`mwrelease results merge` refuses them otherwise).\n")


# Cells run containers: a Docker-in-Docker service, reached over TCP inside the job's network.
GITLAB_DOCKER_SERVICES = ["docker:27-dind"]
GITLAB_DOCKER_VARIABLES = {"DOCKER_HOST": "tcp://docker:2375", "DOCKER_TLS_CERTDIR": ""}


def gitlab_pipeline(opts: WorkflowOptions) -> str:
    before = [opts.install]
    doc: dict[str, Any] = {
        "stages": ["plan", "test"],
        "variables": {"MWRELEASE_LOCK": opts.lock, "MWRELEASE_TEST_OPTIONS": opts.test_options},
        "default": {"image": f"python:{opts.python}"},
        "plan": {
            "stage": "plan",
            "before_script": before,
            "script": [
                _test_cmd(opts, "--plan-only --json > plan.json"),
                "mwrelease ci gitlab-cells plan.json -o cells.gitlab-ci.yml",
            ],
            "artifacts": {"paths": ["plan.json", "cells.gitlab-ci.yml"]},
        },
        "cells": {
            "stage": "test",
            "needs": ["plan"],
            "trigger": {"include": [{"artifact": "cells.gitlab-ci.yml", "job": "plan"}], "strategy": "depend"},
        },
    }
    return HEADER.replace("`mwrelease ci init`", "`mwrelease ci init --gitlab`") + _dump(doc)


def gitlab_child_pipeline(plan: Mapping[str, Any], opts: WorkflowOptions) -> str:
    """The child pipeline for one plan: a job per runnable cell, then the merge job."""
    matrix: Sequence[Mapping[str, str]] = plan["matrix"]
    doc: dict[str, Any] = {
        "stages": ["cells", "merge"],
        "variables": {"MWRELEASE_LOCK": opts.lock, "MWRELEASE_TEST_OPTIONS": opts.test_options,
                      **GITLAB_DOCKER_VARIABLES},
        "default": {"image": f"python:{opts.python}", "services": GITLAB_DOCKER_SERVICES},
    }
    names = []
    for entry in matrix:
        name = f"cell {entry['slug']}"
        names.append(name)
        doc[name] = {
            "stage": "cells",
            "variables": {"CELL": entry["cell"], "SLUG": entry["slug"]},
            "before_script": [opts.install],
            "script": [_test_cmd(opts, '--jobs 1 --cell "$CELL" --results "cell-$SLUG.json"')],
            "artifacts": {"when": "always", "paths": ["cell-*.json"]},
            "timeout": "1h",
        }
    doc["merge"] = {
        "stage": "merge",
        "when": "always",
        "needs": [{"job": n, "artifacts": True} for n in names],
        "before_script": [opts.install, "mkdir -p cells && cp cell-*.json cells/"],
        "script": [line for line in MERGE_SCRIPT.splitlines() if line],
        "artifacts": {"when": "always", "paths": ["out/"], "reports": {"junit": "out/junit.xml"}},
    }
    if not names:  # a plan whose cells are all skipped: merge has nothing to wait for
        doc["merge"].pop("needs")
    return _dump(doc)


def _dump(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, width=120, default_flow_style=False)
