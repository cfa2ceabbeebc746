"""`mwrelease release build` figures (issue 13 goal 4: a 27,000-file release in <= 15 s on this machine).
Run on demand, not a test.

Builds the release of the tarball-1.43 bundle from the real 1.43 core tree (Debian's mediawiki package,
unpacked by ci/fetch-core-trees.sh into .cache/cores/1.43) exactly as ci/main-job.sh does:

    mwrelease resolve bundles/tarball-1.43.yaml --core X --catalog core:.cache/cores/1.43 -o LOCK
    mwrelease release build LOCK --core-tree .cache/cores/1.43 --out-dir OUT

Each run times the whole command (a subprocess, as a release manager runs it) twice:

  cold  a fresh $XDG_CACHE_HOME and a fresh --out-dir;
  warm  a second build from the same core tree with the $XDG_CACHE_HOME the cold build left, again into a fresh
        --out-dir: what a second build (the next point release's, on the same core files) could reuse. The build
        keeps no per-file cache today: it hashes each file in the one read that feeds the tarball, and sha256 of
        the whole 262 MB tree costs about 0.2 s of CPU there, all a hash cache could save; so warm differs from
        cold only by what the kernel caches.

Per phase, the seconds are the laps the command prints itself (its on_phase lines, 0.1 s resolution); "start"
is the rest of the wall time (interpreter start, imports, reading the lock, exit). Medians of --runs runs (3).
The core tree's bytes are in the page cache for every run (caches are not dropped: the machine is shared).
Every tarball must be the same bytes: the sha256 of all runs is compared.

--baseline DIR runs another copy of the code (DIR holds its mwrelease/ package, e.g. from
`git archive HEAD mwrelease | tar -x -C DIR`) interleaved with this checkout's, run by run, so both see the same
load on a shared machine; its tarballs must be the same bytes too.

    python benchmarks/bench_release_build.py [--runs N] [--core-tree DIR] [--baseline DIR] [--keep]
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mwrelease import mwtree  # noqa: E402

PHASE_LINE = re.compile(r"^\[\s*\d+/\d+\s+[\d.]+s\] (\w+): .* \((\d+\.\d)s\)$")


def mwrelease(*args: str, env: dict[str, str] | None = None,
              code: Path = REPO) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `python -m mwrelease ARGS` with the package in ``code`` (the current folder comes first on sys.path);
    returns the process, its wall time and its CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=code,
                          env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"mwrelease {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Run:
    wall: float
    cpu: float
    phases: dict[str, float]
    sha256: str
    files: int
    size: int
    tree_bytes: int
    load: tuple[float, float]


def build(lock: Path, core: Path, out: Path, cache: Path, code: Path) -> Run:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    load = os.getloadavg()[0]
    done, wall, cpu = mwrelease("release", "build", str(lock), "--core-tree", str(core), "--out-dir", str(out),
                                "--json", env=env, code=code)
    phases: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if m := PHASE_LINE.match(line):
            phases[m.group(1)] = float(m.group(2))
    phases["start"] = max(0.0, wall - sum(phases.values()))
    art = json.loads(done.stdout)["data"]["artifacts"][0]
    manifest = json.loads(Path(art["manifest"]).read_text())
    shutil.rmtree(out)
    return Run(wall=wall, cpu=cpu, phases=phases, sha256=art["sha256"], files=art["files"], size=art["size"],
               tree_bytes=sum(f.get("size", 0) for f in manifest["files"]), load=(load, os.getloadavg()[0]))


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    core = (Path(sys.argv[sys.argv.index("--core-tree") + 1]) if "--core-tree" in sys.argv
            else REPO / ".cache/cores/1.43").resolve()
    codes = {"": REPO}
    if "--baseline" in sys.argv:
        codes = {"baseline ": Path(sys.argv[sys.argv.index("--baseline") + 1]).resolve(), "this checkout ": REPO}
    if not (core / "index.php").exists():
        sys.exit(f"No core tree at {core}: run `bash ci/fetch-core-trees.sh` first.")
    version = mwtree.core_version_of(core)
    # Beside the core tree (same file system), as CI's out/ is: the build stages core by hard links there.
    (REPO / ".cache").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-release-build-", dir=REPO / ".cache"))
    try:
        lock = work / "tarball-1.43.lock"
        mwrelease("resolve", str(REPO / "bundles/tarball-1.43.yaml"), "--core", version, "--catalog", f"core:{core}",
                  "-o", str(lock))
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=REPO).stdout.strip()
        print(f"release build of tarball-1.43 on MediaWiki {version} ({core}), {runs} runs of cold then warm; "
              f"checkout {commit}")
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average at start "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if len(codes) > 1:
            print("code: " + "; ".join(f"{label.strip()} {path}" for label, path in codes.items()))
        results: dict[str, list[Run]] = {f"{label}{kind}": [] for label in codes for kind in ("cold", "warm")}
        for i in range(runs):
            for label, code in codes.items():
                cache = work / f"xdg-cache-{i}-{len(label)}"
                for kind in ("cold", "warm"):
                    r = build(lock, core, work / f"out-{i}-{kind}", cache, code)
                    results[f"{label}{kind}"].append(r)
                    print(f"  run {i + 1} {label}{kind}: {r.wall:5.2f} s wall, {r.cpu:4.1f} s CPU  ("
                          + ", ".join(f"{k} {v:.1f}" for k, v in r.phases.items())
                          + f")  load average {r.load[0]:.2f} -> {r.load[1]:.2f}")
        first = next(iter(results.values()))[0]
        print(f"files: {first.files}, tree {first.tree_bytes / 1e6:.1f} MB, tarball {first.size / 1e6:.1f} MB "
              f"({first.size} bytes)")
        digests = sorted({r.sha256 for rs in results.values() for r in rs})
        print(f"tarball sha256: {', '.join(digests)}"
              + (" (identical in every run)" if len(digests) == 1 else "  DIFFERENT BYTES ACROSS RUNS"))
        for kind, rs in results.items():
            walls = [r.wall for r in rs]
            med = {n: statistics.median(r.phases.get(n, 0.0) for r in rs) for n in rs[0].phases}
            print(f"{kind}: median {statistics.median(walls):.2f} s wall "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls)}), "
                  f"{statistics.median(r.cpu for r in rs):.1f} s CPU; phases, median s: "
                  + ", ".join(f"{n} {v:.1f}" for n, v in med.items()))
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if "--keep" in sys.argv:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
