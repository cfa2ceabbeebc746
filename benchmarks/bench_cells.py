"""Where a cell's time goes, cold and warm, and the wall time of a small matrix with --jobs 1 and 2.

    python benchmarks/bench_cells.py                      # cell phases cold/warm + matrix wall times
    python benchmarks/bench_cells.py --rebuild-images     # also time a cold image build (minutes, apt)
    python benchmarks/bench_cells.py --json out.json

Cold: an empty snapshot directory (install.php runs, the localisation cache is built by the first
requests). Warm: the same cell again, reusing the installed-wiki snapshot and the localisation cache.
Image build: "cached" is the content-key lookup every run pays; the cold build is only timed with
--rebuild-images (it rebuilds the core image of each line with apt over the host network).

Matrix: tarball-1.39 planned on the 1.35, 1.39 and 1.43 lines (1.35 is skipped-incompatible by its
declared requires, the 1.43 cell is the cross-line one) plus tarball-1.43 on 1.43: three SQLite cells
that run, with --jobs 1 and --jobs 2, both warm.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mwrelease.lock import Lock  # noqa: E402
from mwrelease.runner.cell import CellOptions, run_cell, run_cells  # noqa: E402
from mwrelease.runner.engine import Engine  # noqa: E402
from mwrelease.runner.plan import plan  # noqa: E402

PHASES = ("image", "container", "install", "place", "localsettings", "l10n-restore", "update.php", "server", "checks")


def resolve_lock(bundle: str, core: str, tree: Path) -> Lock:
    from mwrelease.bundle import load_bundle
    from mwrelease.catalog import load_catalog
    from mwrelease.resolver import Target, resolve

    spec = load_bundle(ROOT / "bundles" / f"{bundle}.yaml")
    return resolve(spec, load_catalog([f"core:{tree}"]), Target(core=core, php=spec.php)).lock


def phase_row(label: str, timings: dict[str, float], total: float) -> str:
    cols = "".join(f"{timings.get(p, 0.0):>13.2f}" for p in PHASES)
    return f"{label:<34}{cols}{total:>9.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rebuild-images", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-matrix", action="store_true")
    args = ap.parse_args()

    engine = Engine.connect()
    report: dict[str, Any] = {"cells": {}, "images": {}, "matrix": {}}
    t39 = resolve_lock("tarball-1.39", "1.39.17", ROOT / ".cache/cores/1.39")
    t43 = resolve_lock("tarball-1.43", "1.43.9", ROOT / ".cache/cores/1.43")

    from mwrelease.runner import images

    for line in ("1.39", "1.43"):
        if args.rebuild_images:
            built = images.ensure_image(engine, images.debian_package_recipe(line), force=True, on_line=lambda s: None)
            report["images"][f"{line} cold build"] = built.seconds
        built = images.core_image(engine, line)
        report["images"][f"{line} cached lookup"] = built.seconds

    print(f"{'cell':<34}" + "".join(f"{p:>13}" for p in PHASES) + f"{'total':>9}")
    with tempfile.TemporaryDirectory(prefix="mwrelease-bench-") as snap_dir:
        opts = CellOptions(snapshot_dir=Path(snap_dir))
        for lock in (t43, t39):
            (cell,) = plan(lock)
            for label in ("cold", "warm"):
                r = run_cell(cell, engine, options=opts)
                print(phase_row(f"{cell.id} {label}", r.timings, r.duration), flush=True)
                report["cells"][f"{cell.id} {label}"] = {"timings": r.timings, "total": r.duration,
                                                          "status": r.status}
        if not args.skip_matrix:
            cells = plan(t39, cores=["1.35", "1.39", "1.43"]) + plan(t43)
            runnable = sum(1 for c in cells if c.runnable)
            for jobs in (1, 2):
                start = time.monotonic()
                results = run_cells(cells, engine, jobs=jobs, options=opts)
                wall = time.monotonic() - start
                report["matrix"][f"jobs {jobs}"] = {"wall": wall, "cells": len(cells), "runnable": runnable,
                                                    "statuses": {r.id: r.status for r in results}}
                print(f"matrix: {len(cells)} cells ({runnable} run), --jobs {jobs}: {wall:.1f} s wall", flush=True)
    for k, v in report["images"].items():
        print(f"image {k}: {v:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
