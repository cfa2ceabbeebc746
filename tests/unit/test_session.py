"""runner.session without an engine: loading the target and the outcome's exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwrelease.errors import ChecksFailed, ConfigError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult, CheckResult, Results
from mwrelease.runner.session import Outcome, load_target, plan_session

REPO = Path(__file__).resolve().parents[2]


def lock() -> Lock:
    c = LockedComponent(name="Cite", kind="extension", ref="REL1_43", ref_type="bundled", commit=None, version=None,
                        source=Source(type="bundled"), catalog="t")
    return Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=(c,))


def test_a_bundle_needs_a_core(tmp_path: Path) -> None:
    def no_catalog(spec: object) -> object:
        raise AssertionError("not reached")

    with pytest.raises(ConfigError, match="give --core"):
        load_target(REPO / "bundles" / "knowledge-1.43.yaml", [], no_catalog)  # type: ignore[arg-type]


def test_a_lock_is_planned_as_is(tmp_path: Path) -> None:
    path = tmp_path / "b.lock"
    lock().dump(path)
    s = plan_session(path, cores=["1.39", "1.43"], dbs=["sqlite", "mariadb"], catalog_for=lambda spec: None)  # type: ignore[arg-type,return-value]
    assert s.lock == lock()
    assert [c.id for c in s.runnable] == ["b@1.39-php8.2-sqlite", "b@1.39-php8.2-mariadb", "b@1.43-php8.4-sqlite",
                                          "b@1.43-php8.4-mariadb"]


def test_outcome_exit_code() -> None:
    (cell,) = plan(lock())
    passed = CellResult.for_cell(cell, [CheckResult(name="php-errors", status="passed")])
    failed = CellResult.for_cell(cell, [CheckResult(name="php-errors", status="failed")])
    assert Outcome(results=Results(cells=(passed,))).exit_code == 0
    bad = Outcome(results=Results(cells=(failed,)))
    assert bad.exit_code == ChecksFailed.exit_code and bad.counts()["failed"] == 1
