"""Compatibility site figures (run on demand, not a test): `mwrelease site build` for a synthetic catalog of
900 extensions x 5 core lines (tests/site_data.py: ~3,550 refs, REL branches + master) with results of
5 locks x 3 databases (15 cells, ~4% of components failing with a PHP fatal in the log).

Prints the time of the whole command (a subprocess, from snapshot files and a results file, as a user
runs it), then its phases in-process: catalog load excluded, planning (declared matrix + tested states +
recommendations) and writing (Jinja2 rendering and ~1,800 files).

    python benchmarks/bench_site.py [--keep DIR]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mwrelease.report.site import plan_site  # noqa: E402
from mwrelease.report.site_render import write_site  # noqa: E402
from tests.site_data import CORES, synthetic_catalog, synthetic_results  # noqa: E402


def write_snapshots(catalog, directory: Path) -> None:  # type: ignore[no-untyped-def]
    directory.mkdir(parents=True, exist_ok=True)
    for name in catalog.names():
        refs = []
        for c in catalog.candidates(name):
            ej = {"name": name, "version": c.version}
            if c.requires.declared:
                ej["requires"] = c.requires.to_json()
            refs.append({"ref": c.ref, "ref_type": c.ref_type, "commit": c.commit, "commit_date": c.commit_date,
                         "extension_json": ej})
        (directory / f"{name}.json").write_text(json.dumps({"name": name, "kind": catalog.kind_of(name),
                                                             "repo": f"synthetic/{name}", "refs": refs}))


def main() -> None:
    keep = Path(sys.argv[sys.argv.index("--keep") + 1]) if "--keep" in sys.argv else None
    catalog = synthetic_catalog(900)
    results = synthetic_results(catalog)
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        write_snapshots(catalog, base / "catalog")
        results.dump(base / "results.json")
        out = base / "site"
        t0 = time.perf_counter()
        child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "mwrelease", "site", "build", "--out-dir", str(out), "--catalog",
                               str(base / "catalog"), "--core", ",".join(CORES), "--results", str(base / "results.json")],
                              capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - t0
        child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime)
        if done.returncode:
            sys.exit(done.stderr)
        index_kb = (out / "index.html").stat().st_size / 1024
        print(f"site build, 900 extensions x 5 core lines ({len(catalog)} refs, {len(results.cells)} result cells): "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU for the whole command; {sum(1 for _ in out.rglob('*') if _.is_file())} files, "
              f"index.html {index_kb:.0f} KiB")
        t0, c0 = time.perf_counter(), time.process_time()
        site = plan_site(catalog, CORES, results=[("results.json", results)], generated_by="bench")
        t1, c1 = time.perf_counter(), time.process_time()
        write_site(site, base / "site2")
        t2, c2 = time.perf_counter(), time.process_time()
        print(f"  in-process: plan {t1 - t0:.1f} s wall / {c1 - c0:.1f} s CPU, render and write "
              f"{t2 - t1:.1f} s wall / {c2 - c1:.1f} s CPU (fresh directory)")
        t0, c0 = time.perf_counter(), time.process_time()
        write_site(site, base / "site2")
        print(f"  render and write again over the same directory: {time.perf_counter() - t0:.1f} s wall / "
              f"{time.process_time() - c0:.1f} s CPU")
        # Wall time above CPU time is waiting: for the disk, or for the CPU on a shared machine.
        print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
