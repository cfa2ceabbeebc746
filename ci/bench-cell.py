"""Time a warm one-extension cell (MwrFixtureGood on 1.43, SQLite): one cold run fills the snapshots,
then N warm runs. Prints each warm cell's seconds and the median. Usage: python ci/bench-cell.py [N]"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source
from mwrelease.runner.cell import CellOptions, run_cell
from mwrelease.runner.engine import Engine
from mwrelease.runner.plan import plan

EXT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "extensions" / "MwrFixtureGood"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    comp = LockedComponent(name="MwrFixtureGood", kind="extension", ref=None, ref_type="tree", commit=None,
                           version="1.0.0", source=Source(type="path", path=str(EXT)), catalog="tree:",
                           requires={"MediaWiki": ">= 1.39.0"},
                           smoke=(SmokeCheck(name="good", wikitext="{{#mwrgood:x}}", expect="good:x"),))
    lock = Lock(bundle="bench", flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=("sqlite",), components=(comp,))
    (cell,) = plan(lock)
    engine = Engine.connect()
    with tempfile.TemporaryDirectory() as snap:
        # MWR_BENCH_SANDBOX=0 runs the cells without the sandbox (to compare); MWR_BENCH_CPUS its CPU quota.
        sandbox = os.environ.get("MWR_BENCH_SANDBOX", "1") != "0"
        cpus = float(os.environ.get("MWR_BENCH_CPUS", str(CellOptions().cpus)))
        opts = CellOptions(snapshot_dir=Path(snap), sandbox=sandbox, cpus=cpus)
        print(f"sandbox={sandbox} cpus={cpus}")
        cold = run_cell(cell, engine, options=opts)
        print(f"cold: {cold.duration:.2f} s status={cold.status}")
        warm = []
        for _ in range(n):
            r = run_cell(cell, engine, options=opts)
            bad = [(c.name, c.message) for c in r.checks if c.status not in ("passed", "skipped")]
            print(f"warm: {r.duration:.2f} s status={r.status} warm={r.warm} "
                  + " ".join(f"{k}={v:.2f}" for k, v in sorted(r.timings.items())) + (f" BAD {bad}" if bad else ""))
            warm.append(r.duration)
        print(f"median warm: {statistics.median(warm):.2f} s over {n}")


if __name__ == "__main__":
    main()
