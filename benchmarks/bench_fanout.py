"""The fan-out figure of issue 11: a 6-cell matrix run as 6 separate `mwrelease test --cell ID --jobs 1`
processes (as 6 CI jobs would, here 2 at a time: 2 runners on this machine's 2 cores) + `results merge`,
against one `mwrelease test --jobs 2` of the same lock. Warm (images and snapshots there); prints wall times
and whether the merged verdicts equal the single run's.

    python benchmarks/bench_fanout.py [--runners 2]

The lock: a fixture extension with a smoke check, on 1.39 and 1.43 x SQLite, MariaDB and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source  # noqa: E402
from mwrelease.runner.results import Results  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def lock() -> Lock:
    good = LockedComponent(name="MwrFixtureGood", kind="extension", ref=None, ref_type="tree", commit=None,
                           version="1.0.0", source=Source(type="path", path=str(FIXTURES / "extensions" / "MwrFixtureGood")),
                           catalog="tree", requires={"MediaWiki": ">= 1.39.0"},
                           smoke=(SmokeCheck(name="good", wikitext="{{#mwrgood:x}}", expect="good:x"),))
    return Lock(bundle="fanout-bench", flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=("sqlite", "mariadb", "postgres"), components=(good,))


def mwrelease(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=ROOT)


def essence(r: Results) -> dict[str, object]:
    return {c.id: (c.status, sorted((k.name, k.status) for k in c.checks)) for c in r.cells}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runners", type=int, default=2, help="separate processes at a time (CI runners)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "fanout.lock"
        lock().dump(path)
        opts = ["--core", "1.39,1.43", "--db", "sqlite,mariadb,postgres"]
        plan = json.loads(mwrelease("test", str(path), *opts, "--plan-only", "--json").stdout)["data"]["matrix"]
        cells = [m["cell"] for m in plan][:6]
        print(f"{len(cells)} cells: {', '.join(cells)}")
        opts += [f"--cell={c}" for c in cells]  # the same 6 cells in both runs

        # Warm-up (images, installed-wiki snapshots), not timed.
        mwrelease("test", str(path), *opts, "--jobs", "2")

        t0 = time.monotonic()
        one = mwrelease("test", str(path), *opts, "--jobs", "2", "--results", str(work / "one.json"))
        single = time.monotonic() - t0

        def run(i_cell: tuple[int, str]) -> int:
            i, cell = i_cell
            base = [a for a in opts if not a.startswith("--cell=")]
            return mwrelease("test", str(path), *base, "--cell", cell, "--jobs", "1",
                             "--results", str(work / f"cell-{i}.json")).returncode

        t0 = time.monotonic()
        with ThreadPoolExecutor(args.runners) as pool:
            codes = list(pool.map(run, enumerate(cells)))
        merge = mwrelease("results", "merge", *sorted(str(p) for p in work.glob("cell-*.json")),
                          "-o", str(work / "merged.json"), "--allow-partial")
        fanned = time.monotonic() - t0
        same = essence(Results.load(work / "merged.json")) == essence(Results.load(work / "one.json"))
        print(f"one `mwrelease test --jobs 2`:              {single:6.1f} s (exit {one.returncode})")
        print(f"{len(cells)} `--cell` processes, {args.runners} at a time, + merge: {fanned:6.1f} s "
              f"(exits {sorted(set(codes))}, merge {merge.returncode})")
        print(f"ratio fan-out / single: {fanned / single:.2f}; same verdicts and checks: {same}")
        for c in Results.load(work / "one.json").cells:
            bad = [f"{k.name}: {k.message[:120]}" for k in c.checks if k.status in ("failed", "error")]
            print(f"  {c.id}: {c.status} {c.duration:.1f} s" + (f"  ({'; '.join(bad)})" if bad else ""))


if __name__ == "__main__":
    main()
