"""`mwrelease ci init`: the workflows it writes are valid by the published GitHub and GitLab schemas
(vendored in tests/data/ci-schemas) and wire plan -> cells -> merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mwrelease.ci.workflows import WorkflowOptions, gitlab_child_pipeline
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.fanout import fanout_plan
from mwrelease.runner.plan import plan
from tests.helpers import REPO, run_mwrelease

SCHEMAS = REPO / "tests" / "data" / "ci-schemas"


def validate(doc: Any, schema_name: str) -> None:
    schema = json.loads((SCHEMAS / schema_name).read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors]


def test_the_schemas_do_reject_a_broken_workflow() -> None:
    # The check above can fail: a job without runs-on/steps and a GitLab job without script are refused.
    with pytest.raises(AssertionError):
        validate({"on": "push", "jobs": {"x": {"needs": "y"}}}, "github-workflows.json")
    with pytest.raises(AssertionError):
        validate({"job": {"stage": "test", "scriptt": ["x"]}}, "gitlab-ci.json")


def test_github_workflow_is_valid_and_fans_out(tmp_path: Path) -> None:
    p = run_mwrelease("ci", "init", "--github", "--lock", "knowledge.lock", "--test-options", "--db sqlite,mariadb",
                      "--dir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    doc = yaml.safe_load((tmp_path / ".github/workflows/mwrelease.yml").read_text())
    validate(doc, "github-workflows.json")
    jobs = doc["jobs"]
    assert list(jobs) == ["plan", "cell", "merge"]
    assert "--plan-only --json" in jobs["plan"]["steps"][-2]["run"]
    assert jobs["cell"]["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.plan.outputs.cells) }}"
    cell_run = jobs["cell"]["steps"][-2]["run"]
    assert '--cell "$CELL"' in cell_run and "${{" not in cell_run  # ids reach the shell as env vars only
    merge_run = jobs["merge"]["steps"][-2]["run"]
    assert "mwrelease results merge" in merge_run and "mwrelease seal" in merge_run and "--junit" in merge_run
    assert doc["env"] == {"MWRELEASE_LOCK": "knowledge.lock", "MWRELEASE_TEST_OPTIONS": "--db sqlite,mariadb"}
    again = run_mwrelease("ci", "init", "--github", "--dir", str(tmp_path))
    assert again.returncode == 3 and "exists" in again.stderr


def test_gitlab_pipeline_and_its_child_are_valid(tmp_path: Path) -> None:
    p = run_mwrelease("ci", "init", "--gitlab", "--dir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    parent = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    validate(parent, "gitlab-ci.json")
    assert parent["cells"]["trigger"]["include"] == [{"artifact": "cells.gitlab-ci.yml", "job": "plan"}]
    comps = tuple(LockedComponent(name=n, kind="extension", ref="REL1_43", ref_type="bundled", commit=None,
                                  version=None, source=Source(type="bundled"), catalog="t") for n in ("Cite", "Math"))
    lock = Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=comps)
    data = fanout_plan(plan(lock, dbs=["sqlite", "mariadb"], isolate=True))
    child = yaml.safe_load(gitlab_child_pipeline(data, WorkflowOptions(lock="b.lock")))
    validate(child, "gitlab-ci.json")
    cell_jobs = [k for k in child if k.startswith("cell ")]
    assert len(cell_jobs) == 4 and [n["job"] for n in child["merge"]["needs"]] == cell_jobs
    assert child["merge"]["artifacts"]["reports"]["junit"] == "out/junit.xml"
    # and through the CLI, from the plan JSON the plan job writes
    (tmp_path / "plan.json").write_text(json.dumps({"data": data}))
    q = run_mwrelease("ci", "gitlab-cells", str(tmp_path / "plan.json"), "-o", str(tmp_path / "c.yml"))
    assert q.returncode == 0, q.stderr
    validate(yaml.safe_load((tmp_path / "c.yml").read_text()), "gitlab-ci.json")
