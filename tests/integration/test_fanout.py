"""Fan-out on real containers: plan + one `mwrelease test --cell` process per cell + `results merge`
give the same cells, verdicts and checks as one `mwrelease test` run of the same lock.

A small lock, isolated on 1.43/SQLite: ParserFunctions (passes), MwrFixtureWrongOutput (a smoke check
fails) and a component declared for a later MediaWiki (skipped-incompatible): two cells run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source
from mwrelease.runner.results import Results
from tests.helpers import FIXTURES, run_mwrelease
from tests.integration.helpers import need_any_image

pytestmark = pytest.mark.docker


def small_lock() -> Lock:
    pf = LockedComponent(name="ParserFunctions", kind="extension", ref="REL1_43", ref_type="bundled", commit=None,
                         version=None, source=Source(type="bundled"), catalog="image", requires={"MediaWiki": ">= 1.43"},
                         smoke=(SmokeCheck(name="expr", wikitext="{{#expr: 6*7}}", expect="42"),))
    wrong = LockedComponent(name="MwrFixtureWrongOutput", kind="extension", ref=None, ref_type="tree", commit=None,
                            version="1.0.0", source=Source(type="path",
                                                           path=str(FIXTURES / "extensions" / "MwrFixtureWrongOutput")),
                            catalog="tree", requires={"MediaWiki": ">= 1.39.0"},
                            smoke=(SmokeCheck(name="twice", wikitext="{{#mwrtwice:ab}}", expect="abab"),))
    later = LockedComponent(name="MwrFixtureWarning", kind="extension", ref=None, ref_type="tree", commit=None,
                            version="1.0.0", source=Source(type="path",
                                                           path=str(FIXTURES / "extensions" / "MwrFixtureWarning")),
                            catalog="tree", requires={"MediaWiki": ">= 1.45.0"})
    return Lock(bundle="fanout", flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=("sqlite",), components=(pf, wrong, later))


def essence(results: Results) -> dict[str, Any]:
    """What must agree: each cell's outcome, and each check's status and blame (not durations)."""
    return {c.id: (c.status, c.lock_digest, sorted((k.name, k.status, k.blame) for k in c.checks))
            for c in results.cells}


def test_cells_as_separate_processes_merge_to_one_run(engine: Any, tmp_path: Path) -> None:
    need_any_image(engine, "mwrelease/base:trixie", "mwrelease/core:1.43-debian")
    lock = tmp_path / "fanout.lock"
    small_lock().dump(lock)
    opts = ["--isolate", "--update-timeout", "120"]
    p = run_mwrelease("test", str(lock), *opts, "--plan-only", "--json")
    assert p.returncode == 0, p.stderr
    matrix = json.loads(p.stdout)["data"]["matrix"]
    assert len(matrix) == 2

    t0 = time.monotonic()
    for m in matrix:  # one process per cell, as one CI job each (exit 7 when the cell fails)
        r = run_mwrelease("test", str(lock), *opts, "--jobs", "1", "--cell", m["cell"],
                          "--results", str(tmp_path / f"cell-{m['slug']}.json"), timeout=900)
        assert r.returncode in (0, 7), r.stderr[-2000:]
    fanned = time.monotonic() - t0
    shards = sorted(tmp_path.glob("cell-*.json"))
    merged_path = tmp_path / "merged.json"
    m = run_mwrelease("results", "merge", *map(str, shards), "-o", str(merged_path), "--junit",
                      str(tmp_path / "junit.xml"))
    assert m.returncode == 7, m.stderr  # the fixture's smoke check fails, and merge says so like test

    t0 = time.monotonic()
    one = run_mwrelease("test", str(lock), *opts, "--jobs", "2", "--results", str(tmp_path / "one.json"),
                        timeout=900)
    single = time.monotonic() - t0
    assert one.returncode == 7, one.stderr[-2000:]

    merged, whole = Results.load(merged_path), Results.load(tmp_path / "one.json")
    assert essence(merged) == essence(whole)
    assert merged.plan_sha256 == whole.plan_sha256 and merged.planned == whole.planned
    statuses = {c.id: c.status for c in merged.cells}
    assert statuses == {"fanout@1.43-php8.4-sqlite[ParserFunctions]": "passed",
                        "fanout@1.43-php8.4-sqlite[MwrFixtureWrongOutput]": "failed",
                        "fanout@1.43-php8.4-sqlite[MwrFixtureWarning]": "skipped-incompatible"}
    # the seal of the merged results is the seal of the single run
    s1 = run_mwrelease("seal", str(merged_path), "--json")
    s2 = run_mwrelease("seal", str(tmp_path / "one.json"), "--json")
    verdicts = [{name: c["verdict"] for name, c in
                 json.loads(s.stdout)["data"]["seals"][0]["predicate"]["components"].items()} for s in (s1, s2)]
    assert verdicts[0] == verdicts[1] and verdicts[0]["MwrFixtureWrongOutput"] == "failed", verdicts
    print(f"\nfan-out: {len(matrix)} cells as separate processes {fanned:.1f} s; one `mwrelease test --jobs 2` "
          f"{single:.1f} s")
