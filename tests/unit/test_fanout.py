"""runner.fanout without an engine: deterministic shards, merge refusing foreign shards, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.fanout import fanout_plan, merge_shards, plan_digest, select, slug, stamp
from mwrelease.runner.plan import Cell, plan
from mwrelease.runner.results import CellResult, CheckResult, Results, lock_summary
from tests.helpers import run_mwrelease


def lock(bundle: str = "b", *names: str) -> Lock:
    comps = tuple(LockedComponent(name=n, kind="extension", ref="REL1_43", ref_type="bundled", commit=None,
                                  version=None, source=Source(type="bundled"), catalog="t",
                                  requires={"MediaWiki": ">= 1.43"} if n == "New" else {})
                  for n in (names or ("Cite", "New")))
    return Lock(bundle=bundle, flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=comps)


def cells(lk: Lock | None = None, **kw: object) -> list[Cell]:
    return plan(lk or lock(), cores=["1.39", "1.43"], dbs=["sqlite", "mariadb"], isolate=True, **kw)  # type: ignore[arg-type]


def shard_results(all_cells: list[Cell], ids: list[str], status: str = "passed") -> Results:
    shard = select(all_cells, ids)
    out = [CellResult.for_cell(c, [CheckResult(name="php-errors", status=status)] if c.runnable else [])  # type: ignore[arg-type]
           for c in shard.cells]
    return stamp(Results(cells=tuple(out), locks=(lock_summary(all_cells[0]),)), shard)


def test_plan_is_deterministic_and_lists_runnable_cells_as_matrix() -> None:
    a, b = fanout_plan(cells()), fanout_plan(cells())
    assert a == b and a["plan_sha256"] == plan_digest(cells())
    # New requires >= 1.43: its 1.39 cells are skipped, so not in the matrix
    ids = [m["cell"] for m in a["matrix"]]
    assert "b@1.43-php8.4-sqlite[New]" in ids and "b@1.39-php8.2-sqlite[New]" not in ids
    assert len(ids) == 6 and len({m["slug"] for m in a["matrix"]}) == 6
    assert all(set(m["slug"]) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
               for m in a["matrix"])
    # Another option (no mariadb) is another plan
    assert plan_digest(plan(lock(), cores=["1.39", "1.43"], isolate=True)) != a["plan_sha256"]


def test_select_by_id_or_slug_adds_skipped_cells_and_refuses_unknown_ids() -> None:
    cs = cells()
    one = select(cs, [slug("b@1.43-php8.4-mariadb[Cite]")])
    assert [c.id for c in one.cells if c.runnable] == ["b@1.43-php8.4-mariadb[Cite]"]
    assert {c.id for c in one.cells if not c.runnable} == {c.id for c in cs if not c.runnable}
    assert one.planned == tuple(c.id for c in cs)
    with pytest.raises(ConfigError, match="No cell 'nope'"):
        select(cs, ["nope"])


def test_merge_gives_the_plan_order_whatever_the_file_order() -> None:
    cs = cells()
    runnable = [c.id for c in cs if c.runnable]
    shards = [(f"cell-{i}.json", shard_results(cs, [i])) for i in reversed(runnable)]
    merged = merge_shards(shards)
    assert [c.id for c in merged.cells] == [c.id for c in cs]
    assert merged.plan_sha256 == plan_digest(cs)
    assert merge_shards(list(reversed(shards))).to_json() == merged.to_json()


def test_merge_refuses_other_locks_naming_the_files() -> None:
    cs, other = cells(), cells(lock("b", "Cite", "New", "Extra"))
    shards = [("mine.json", shard_results(cs, [c.id for c in cs if c.runnable][:1])),
              ("theirs.json", shard_results(other, [c.id for c in other if c.runnable][:1]))]
    with pytest.raises(ConfigError, match="different locks") as exc:
        merge_shards(shards)
    assert any("mine.json" in d for d in exc.value.details) and any("theirs.json" in d for d in exc.value.details)


def test_merge_refuses_other_plans_missing_cells_conflicts_and_planless_results() -> None:
    cs = cells()
    other = plan(lock(), cores=["1.43"], dbs=["sqlite"], isolate=True)
    ids = [c.id for c in cs if c.runnable]
    with pytest.raises(ConfigError, match="different plans") as exc:
        merge_shards([("a.json", shard_results(cs, ["b@1.43-php8.4-sqlite[Cite]"])),
                      ("b.json", shard_results(other, ["b@1.43-php8.4-sqlite[Cite]"]))])
    assert "a.json" in " ".join(exc.value.details) and "b.json" in " ".join(exc.value.details)
    with pytest.raises(ConfigError, match="have no results") as exc:
        merge_shards([("a.json", shard_results(cs, ids[:2]))])
    assert set(exc.value.details) == set(ids[2:])
    partial = merge_shards([("a.json", shard_results(cs, ids[:2]))], allow_partial=True)
    assert len(partial.cells) == len(cs) - (len(ids) - 2) and len(partial.planned) == len(cs)
    with pytest.raises(ConfigError, match="ran twice"):
        merge_shards([("a.json", shard_results(cs, ids)), ("b.json", shard_results(cs, ids[:1], "failed"))])
    with pytest.raises(ConfigError, match="carry no plan"):
        merge_shards([("old.json", replace(shard_results(cs, ids), plan_sha256=""))])


def test_results_keep_the_plan_through_json(tmp_path: Path) -> None:
    cs = cells()
    r = shard_results(cs, [cs[0].id])
    r.dump(tmp_path / "r.json")
    back = Results.load(tmp_path / "r.json")
    assert back.plan_sha256 == r.plan_sha256 and back.planned == r.planned
    # results without a plan keep their old JSON (and digest)
    assert "plan" not in replace(r, plan_sha256="").to_json()


def test_cli_plan_cell_and_merge(tmp_path: Path) -> None:
    lk = tmp_path / "b.lock"
    lock().dump(lk)
    p = run_mwrelease("test", str(lk), "--core", "1.39,1.43", "--isolate", "--plan-only", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)["data"]
    assert len(data["matrix"]) == 3 and data["plan_sha256"]
    p2 = run_mwrelease("test", str(lk), "--core", "1.39,1.43", "--isolate", "--plan-only", "--json",
                       "--cell", data["matrix"][0]["slug"])
    assert [m["cell"] for m in json.loads(p2.stdout)["data"]["matrix"]] == [data["matrix"][0]["cell"]]
    bad = run_mwrelease("test", str(lk), "--cell", "nope", "--plan-only")
    assert bad.returncode == ConfigError.exit_code and "No cell 'nope'" in bad.stderr
    # merge through the CLI: the shards of one plan, then a shard of another plan refused by name
    cs = plan(lock(), cores=["1.39", "1.43"], isolate=True)
    for m in data["matrix"]:
        shard_results(cs, [m["cell"]]).dump(tmp_path / f"cell-{m['slug']}.json")
    files = sorted(str(f) for f in tmp_path.glob("cell-*.json"))
    ok = run_mwrelease("results", "merge", *files, "-o", str(tmp_path / "all.json"), "--junit", str(tmp_path / "j.xml"))
    assert ok.returncode == 0, ok.stderr
    assert [c["id"] for c in json.loads((tmp_path / "all.json").read_text())["cells"]] == [c.id for c in cs]
    shard_results(cells(), [cells()[0].id]).dump(tmp_path / "foreign.json")
    no = run_mwrelease("results", "merge", *files, str(tmp_path / "foreign.json"), "-o", str(tmp_path / "x.json"))
    assert no.returncode == ConfigError.exit_code and "foreign.json" in no.stderr and "different plans" in no.stderr
