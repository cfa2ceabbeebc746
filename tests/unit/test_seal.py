from __future__ import annotations

import json
from typing import Any

import pytest

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock
from mwrelease.runner.plan import lock_digest, plan
from mwrelease.runner.results import CellResult, CheckResult, Results, lock_summary
from mwrelease.seal import PREDICATE_TYPE, component_in_cell, seal
from tests.unit.helpers import make_seal_lock, ok_checks


def run(lock: Lock, by_cell: dict[str, list[CheckResult]], **plan_kw: Any) -> Results:
    cells = plan(lock, **plan_kw)
    res = tuple(CellResult.for_cell(c, by_cell.get(c.id, ok_checks())) for c in cells)
    return Results(cells=res, locks=(lock_summary(cells[0]),))


def test_all_pass_on_every_database_is_sealed() -> None:
    lock = make_seal_lock(("sqlite", "mariadb"))
    (s,) = seal([run(lock, {}, dbs=["sqlite", "mariadb"])])
    assert s.verdict == "sealed" and {c.verdict for c in s.components} == {"sealed"}


def test_missing_database_is_provisional() -> None:
    lock = make_seal_lock(("sqlite", "mariadb"))
    (s,) = seal([run(lock, {})])
    assert s.verdict == "provisional"
    assert any("mariadb" in r for r in s.reasons)
    assert all(c.verdict == "provisional" for c in s.components)


def test_blamed_failure_fails_only_that_extension() -> None:
    lock = make_seal_lock()
    bad = ok_checks() + [CheckResult(name="smoke:Poem:x", status="failed", component="Poem", blame=("Poem",),
                                     message="expected")]
    (s,) = seal([run(lock, {"b@1.43-php8.4-sqlite": bad})])
    verdicts = {c.name: c.verdict for c in s.components}
    assert verdicts == {"Cite": "sealed", "Poem": "failed"}
    assert s.verdict == "failed"


def test_failure_caused_by_another_component_is_inconclusive_for_the_victim() -> None:
    cell = plan(make_seal_lock())[0]
    checks = ok_checks() + [CheckResult(name="load.php:Cite", status="failed", component="Cite", blame=("Poem",))]
    r = CellResult.for_cell(cell, checks)
    assert component_in_cell(r, "Cite")[0] == "inconclusive"
    assert component_in_cell(r, "Poem")[0] == "failed"


def test_unblamed_setup_failure() -> None:
    lock = make_seal_lock()
    broken = [CheckResult(name="install", status="failed", message="install.php failed"),
              CheckResult(name="siteinfo", status="skipped")]
    (s,) = seal([run(lock, {"b@1.43-php8.4-sqlite": broken})])
    assert {c.verdict for c in s.components} == {"untested"}
    assert s.verdict == "failed" and "no component to blame" in s.reasons[0]


def test_other_lines_are_evidence_not_verdict() -> None:
    lock = make_seal_lock()
    bad = ok_checks() + [CheckResult(name="smoke:Cite:x", status="failed", component="Cite", blame=("Cite",))]
    (s,) = seal([run(lock, {"b@1.39-php8.2-sqlite": bad}, cores=["1.43", "1.39"])])
    cite = next(c for c in s.components if c.name == "Cite")
    assert cite.verdict == "sealed" and cite.other_cells == {"b@1.39-php8.2-sqlite": "failed"}
    # the summary of other lines: Cite failed on 1.39, Poem passed there
    assert s.other_lines() == {"1.39": {"failed": ["Cite"], "passed": ["Poem"]}}


def test_no_cells_is_untested() -> None:
    lock = make_seal_lock()
    cells = plan(lock, php=["8.2"])  # no image: skipped-unavailable
    r = Results(cells=tuple(CellResult.for_cell(c) for c in cells), locks=(lock_summary(cells[0]),))
    (s,) = seal([r])
    assert s.verdict == "untested" and {c.verdict for c in s.components} == {"untested"}


def test_statement_is_canonical_in_toto_shape() -> None:
    lock = make_seal_lock()
    r = run(lock, {})
    (s,) = seal([r], lock_sha256=lock_digest(lock))
    raw = s.canonical()
    assert b" " not in raw.split(b'"text":')[0]  # no whitespace outside strings before the policy text
    st = json.loads(raw)
    assert json.dumps(st, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() == raw
    assert st["_type"].startswith("https://in-toto.io/Statement")
    assert st["subject"][0]["digest"]["sha256"] == lock_digest(lock)
    assert st["predicateType"] == PREDICATE_TYPE
    assert st["predicate"]["results"] == [{"digest": {"sha256": r.digest()}}]
    assert seal([r])[0].canonical() == raw  # deterministic


def test_unknown_lock_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="None of the results"):
        seal([run(make_seal_lock(), {})], lock_sha256="0" * 64)
