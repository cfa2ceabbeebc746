"""Where a cell's time goes, beside MediaWiki's own floor, and the wall time of a 6-cell matrix with
--jobs 1 and --jobs 2 (issue 13, goal 2). Everything in one run, on this machine:

    python benchmarks/bench_cells.py                      # cells cold/warm, floor, matrix jobs 1 vs 2
    python benchmarks/bench_cells.py --skip-matrix        # the cells and the floor only
    python benchmarks/bench_cells.py --rebuild-images     # also time a cold image build (minutes, apt)
    python benchmarks/bench_cells.py --json out.json

Cells (SQLite, 1.43): the tarball bundle (tarball-1.43, every extension and skin of the release
tarball, resolved against the 1.43 core tree) and a one-extension cell (the MwrFixtureGood fixture,
copied in as a path source, with a smoke check). Each runs cold (an empty snapshot directory:
install.php, the localisation cache built by the first requests) and then warm (the installed-wiki
snapshot and the localisation cache restored). Goals: warm tarball cell <= 8 s, warm one-extension cell <= 6 s.

Floor: MediaWiki's own work for the same cell, timed directly in a container of the same image under
the same sandbox limits (read-only root, tmpfs, 1 CPU): restoring the snapshots (a tar into the
container), update.php --quick with the cell's LocalSettings.php, and parsing the cell's smoke
wikitext with maintenance/parse.php. No server, no checks, none of the runner.

Matrix: 6 SQLite cells (tarball-1.43 on 1.43, tarball-1.39 on 1.39, four fixture extensions on 1.43),
one warm-up pass, then --jobs 1 and --jobs 2, both warm. Goal: jobs 2 >= 1.7x faster.
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

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source  # noqa: E402
from mwrelease.runner.cell import CellOptions, run_cell, run_cells  # noqa: E402
from mwrelease.runner.engine import Engine  # noqa: E402
from mwrelease.runner.plan import Cell, plan  # noqa: E402

PHASES = ("image", "container", "install", "place", "localsettings", "cache-restore", "update.php", "server", "checks")
FLOOR = ("snapshot restore", "update.php", "parse")
FIXTURES = ROOT / "tests" / "fixtures" / "extensions"
GOALS = {"tarball warm": 8.0, "one-extension warm": 6.0}


def resolve_lock(bundle: str, core: str, tree: Path) -> Lock:
    from mwrelease.bundle import load_bundle
    from mwrelease.catalog import load_catalog
    from mwrelease.resolver import Target, resolve

    spec = load_bundle(ROOT / "bundles" / f"{bundle}.yaml")
    return resolve(spec, load_catalog([f"core:{tree}"]), Target(core=core, php=spec.php)).lock


def fixture_lock(name: str, *smoke: tuple[str, str, str]) -> Lock:
    """One fixture extension as a path source, on 1.43 (as tests/integration/test_cells.py builds them)."""
    comp = LockedComponent(name=name, kind="extension", ref=None, ref_type="tree", commit=None, version="1.0.0",
                           source=Source(type="path", path=str(FIXTURES / name)), catalog=f"tree:{FIXTURES}",
                           requires={"MediaWiki": ">= 1.39.0"},
                           smoke=tuple(SmokeCheck(name=n, wikitext=w, expect=e) for n, w, e in smoke))
    return Lock(bundle=name, flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=("sqlite",), components=(comp,))


def phase_row(label: str, timings: dict[str, float], total: float, status: str) -> str:
    cols = "".join(f"{timings.get(p, 0.0):>14.2f}" for p in PHASES)
    return f"{label:<30}{cols}{total:>9.2f}  {status}"


def measure_floor(engine: Engine, cell: Cell, snap_dir: Path) -> dict[str, float]:
    """MediaWiki's own work for ``cell``, timed directly in a container under the cell's sandbox."""
    from mwrelease.runner import images, sandbox, snapshots
    from mwrelease.runner import mediawiki as mw
    from mwrelease.runner.engine import Sandbox
    from mwrelease.runner.localsettings import local_settings_text
    from mwrelease.runner.place import place_component

    tag = images.core_image(engine, cell.core_line).tag
    sqlite = snapshots.sqlite_path(snap_dir, engine, tag)
    caches = snapshots.cache_path(snap_dir, engine, tag, cell.lock_digest)
    if sqlite is None or not sqlite.is_file():
        raise SystemExit(f"no SQLite snapshot for {tag}: run the cell first")
    opts = CellOptions()
    writable = sandbox.writable_places(cell, images.DEBIAN_MW_PATH)
    limits = Sandbox(writable=writable, size=opts.disk_limit, cpus=opts.cpus, nofile=opts.nofile, fsize=opts.fsize,
                     executable=tuple(w for w in writable if w not in sandbox.DEBIAN_WRITABLE))
    out: dict[str, float] = {}
    with engine.container(tag, mem_limit=opts.mem_limit, pids_limit=opts.pids_limit, cap_drop=("ALL",),
                          limits=limits, labels={"mwrelease.role": "bench-floor"}) as c, \
            tempfile.TemporaryDirectory() as work:
        t0 = time.monotonic()
        wiki = snapshots.restore_sqlite(c, sqlite)
        if caches is not None and caches.is_file():
            snapshots.restore_tree(c, caches, snapshots.L10N_DIR)
        out["snapshot restore"] = time.monotonic() - t0
        for comp in cell.loaded:  # not timed: the copy of the component's tree is not MediaWiki's work
            place_component(c, wiki.path, comp, cell, Path(work), fresh=True)
        c.exec(["mkdir", "-p", "/var/lib/mwtest/cache", "/var/log/mwtest"], timeout=10, quiet=True).check()
        mw.append_local_settings(c, wiki, local_settings_text(cell))
        r = c.exec(["php", "maintenance/update.php", "--quick"], timeout=600, workdir=wiki.path, quiet=True)
        out["update.php"] = r.duration if r.ok else float("nan")
        text = "\n\n".join(s.wikitext for comp in cell.loaded for s in comp.smoke) or "'''Hello''' [[Main Page]]"
        c.put_files("/tmp", {"smoke.wiki": text.encode()})
        r = c.exec(["sh", "-c", "php maintenance/parse.php --title 'Smoke test' < /tmp/smoke.wiki"], timeout=300,
                   workdir=wiki.path, quiet=True)
        out["parse"] = r.duration if r.ok else float("nan")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rebuild-images", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-matrix", action="store_true")
    args = ap.parse_args()

    engine = Engine.connect()
    report: dict[str, Any] = {"cells": {}, "floor": {}, "images": {}, "matrix": {}}
    t43 = resolve_lock("tarball-1.43", "1.43.9", ROOT / ".cache/cores/1.43")
    t39 = resolve_lock("tarball-1.39", "1.39.17", ROOT / ".cache/cores/1.39")
    one = fixture_lock("MwrFixtureGood", ("good", "{{#mwrgood:x}}", "good:x"))

    from mwrelease.runner import images

    for line in ("1.39", "1.43"):
        if args.rebuild_images:
            built = images.ensure_image(engine, images.debian_package_recipe(line), force=True, on_line=lambda s: None)
            report["images"][f"{line} cold build"] = built.seconds
        report["images"][f"{line} cached lookup"] = images.core_image(engine, line).seconds

    print(f"{'cell':<30}" + "".join(f"{p:>14}" for p in PHASES) + f"{'total':>9}")
    with tempfile.TemporaryDirectory(prefix="mwrelease-bench-") as tmp:
        snap_dir = Path(tmp)
        opts = CellOptions(snapshot_dir=snap_dir)
        shapes = {"tarball": (t43, f"tarball-1.43 ({len(t43.components)} components)"),
                  "one-extension": (one, "one extension (MwrFixtureGood)")}
        for shape, (lock, title) in shapes.items():
            (cell,) = plan(lock)
            for label in ("cold", "warm"):
                r = run_cell(cell, engine, options=opts)
                print(phase_row(f"{shape} {label}", r.timings, r.duration, r.status), flush=True)
                report["cells"][f"{shape} {label}"] = {"cell": cell.id, "title": title, "timings": r.timings,
                                                       "total": r.duration, "status": r.status}
            report["floor"][shape] = measure_floor(engine, cell, snap_dir)
        print()
        print(f"{'MediaWiki floor':<30}" + "".join(f"{p:>18}" for p in FLOOR) + f"{'sum':>9}{'warm cell':>11}"
              f"{'ours':>8}{'goal':>7}")
        for shape, floor in report["floor"].items():
            warm = report["cells"][f"{shape} warm"]["total"]
            total = sum(floor.values())
            goal = GOALS[f"{shape} warm"]
            print(f"{shape:<30}" + "".join(f"{floor[p]:>18.2f}" for p in FLOOR) + f"{total:>9.2f}{warm:>11.2f}"
                  f"{warm - total:>8.2f}{goal:>6.0f}{'' if warm <= goal else ' (missed)'}", flush=True)
        if not args.skip_matrix:
            cells = (plan(t43) + plan(t39) + plan(one)
                     + plan(fixture_lock("MwrFixtureWarning", ("quiet", "<mwrquiet>ok</mwrquiet>", "ok")))
                     + plan(fixture_lock("MwrFixtureWrongOutput", ("twice", "{{#mwrtwice:ab}}", "abab")))
                     + plan(fixture_lock("MwrFixtureParserException", ("boom", "<mwrboom>x</mwrboom>", "x"))))
            print(f"\nmatrix of {len(cells)} cells: " + ", ".join(c.id for c in cells))
            walls: dict[str, float] = {}
            for label, jobs in (("warm-up", 2), ("jobs 1", 1), ("jobs 2", 2)):
                start = time.monotonic()
                results = run_cells(cells, engine, jobs=jobs, options=opts)
                walls[label] = time.monotonic() - start
                report["matrix"][label] = {"wall": walls[label], "jobs": jobs,
                                           "statuses": {r.id: r.status for r in results},
                                           "durations": {r.id: r.duration for r in results}}
                print(f"  {label:<8} --jobs {jobs}: {walls[label]:6.1f} s wall "
                      f"(cells {', '.join(f'{r.duration:.1f}' for r in results)})", flush=True)
            speedup = walls["jobs 1"] / walls["jobs 2"]
            report["matrix"]["speedup"] = speedup
            print(f"  --jobs 2 is {speedup:.2f}x faster than --jobs 1 (goal >= 1.7x"
                  f"{'' if speedup >= 1.7 else ', missed'})")
    for k, v in report["images"].items():
        print(f"image {k}: {v:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
