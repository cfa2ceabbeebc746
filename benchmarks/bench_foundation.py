"""Foundation figures (run on demand, not a test): resolve time per shipped bundle over the real data,
resolve time over a generated catalog of 2,000 extensions x 12 refs with random requires, matrix
time for the real data x 3 core versions, and the start-up time of `mwrelease --help`.

    python benchmarks/bench_foundation.py
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mwrelease.bundle import load_bundle, parse_bundle  # noqa: E402
from mwrelease.catalog import Candidate, Catalog, Requires, load_catalog  # noqa: E402
from mwrelease.matrix import declared_matrix  # noqa: E402
from mwrelease.resolver import Target, resolve  # noqa: E402

SNAPSHOTS = REPO.parent / "shared" / "data" / "extension-metadata"
CORES = REPO / ".cache" / "cores"
BUNDLE_TARGETS = {"tarball-1.39": "1.39.17", "tarball-1.43": "1.43.9", "language-1.43": "1.43.9", "knowledge-1.43": "1.43.9"}


def timed(fn, repeat: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def real_catalog() -> Catalog:
    specs = [str(SNAPSHOTS)] + [f"core:{CORES / line}" for line in ("1.39", "1.43") if (CORES / line).exists()]
    return load_catalog(specs)


def generated_catalog(n: int = 2000, refs: int = 12, seed: int = 7) -> tuple[Catalog, list[str]]:
    rng = random.Random(seed)
    names = [f"Ext{i:04d}" for i in range(n)]
    cands = []
    for i, name in enumerate(names):
        for r in range(refs):
            line = 35 + r  # REL1_35 .. REL1_46
            deps = {}
            # Dependencies only on lower-numbered extensions: random but acyclic, like real requires.
            for d in rng.sample(range(i), k=min(i, rng.choice([0, 0, 1, 1, 2, 3]))):
                deps[names[d]] = "*"
            cands.append(Candidate(name=name, kind="extension", ref=f"REL1_{line}", ref_type="branch", commit=None,
                                   version=f"1.{line}.0",
                                   requires=Requires.from_manifest({"MediaWiki": f">= 1.{line}", "extensions": deps}),
                                   composer_require=MappingProxyType({}), origin="generated"))
    return Catalog(cands, sources=["generated"]), names


def main() -> None:
    print(f"# mwrelease foundation benchmark ({time.strftime('%Y-%m-%d %H:%M')}, python {sys.version.split()[0]})")
    t, cat = timed(real_catalog, repeat=3)
    print(f"load real catalog ({len(cat)} refs of {len(cat.names())} names, snapshots + Debian core trees): {t * 1000:.0f} ms")  # type: ignore[arg-type]
    for name, core in BUNDLE_TARGETS.items():
        bundle = load_bundle(REPO / "bundles" / f"{name}.yaml")
        t, res = timed(lambda: resolve(bundle, cat, Target(core=core, php=bundle.php)))  # type: ignore[arg-type]
        print(f"resolve {name:<16} for {core}: {t * 1000:7.1f} ms  ({len(res.lock.components)} components)")  # type: ignore[attr-defined]

    gen, names = generated_catalog()
    yaml_text = "name: generated\ncore: {lines: ['1.43']}\nextensions:\n" + "".join(f"  {n}:\n" for n in random.Random(1).sample(names, 200))
    bundle = parse_bundle(yaml_text, origin=Path("generated.yaml"))
    t, res = timed(lambda: resolve(bundle, gen, Target(core="1.43.0")), repeat=3)
    print(f"resolve 200 roots over generated catalog (2,000 x 12 refs, random acyclic requires): {t:.2f} s "
          f"({len(res.lock.components)} components after following requires)")  # type: ignore[attr-defined]
    bundle_all = parse_bundle("name: all\ncore: {lines: ['1.43']}\nextensions:\n" + "".join(f"  {n}:\n" for n in names),
                              origin=Path("all.yaml"))
    t, res = timed(lambda: resolve(bundle_all, gen, Target(core="1.43.0")), repeat=1)
    print(f"resolve all 2,000 extensions of the generated catalog: {t:.2f} s")

    t, rows = timed(lambda: declared_matrix(cat, ["1.39.17", "1.43.9", "1.44.0"]), repeat=3)
    print(f"declared matrix, real data x 3 core versions ({len(rows)} cells): {t * 1000:.0f} ms")  # type: ignore[arg-type]

    helps = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mwrelease", "--help"], check=True, capture_output=True, cwd=REPO)
        helps.append(time.perf_counter() - t0)
    bare = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
    print(f"`mwrelease --help` start-up: median {statistics.median(helps) * 1000:.0f} ms "
          f"(bare python start-up: {statistics.median(bare) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
