"""Resolver at ecosystem scale, side by side with Composer (run on demand, not in CI).

Generates (or reuses) the seeded universe of benchmarks/universe.py — 2,000 extensions x 12 tags as a
Composer repository and as an mwrelease snapshot catalog — and runs each case through

- Composer 2 (Debian's package: ``apt-get install -y composer``), offline:
  ``composer update --no-install`` against a ``file://`` composer repository, packagist disabled;
- ``mwrelease resolve`` as of today (this tree), whole process through the CLI;
- ``mwrelease resolve`` before the CDCL engine (resolvelib; ``--old-rev``, extracted with git archive);

mwrelease's modules byte-compiled first, as pip leaves an installed package (this machine sets
PYTHONDONTWRITEBYTECODE, which would otherwise make every run compile ~25 modules: 0.1-0.2 s), timing each
whole process (wall clock, and CPU = user+sys of the child, which the shared 2-core machine
disturbs less), checking every answer (every requested extension present, every ``requires`` met,
judged with mwrelease/versions.py, and "no single extension could take a more preferred tag with the
rest unchanged"), and printing the first sentences of each explanation. Then, in-process on the same
translated problems, the engines measured to choose one: the CDCL solver (mwrelease/resolve/cdcl.py) and
libsolv through the ``solv`` wheel (``pip install solv``); resolvelib is the "old" column.

    python benchmarks/bench_resolver.py [--universe DIR] [--old-timeout 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mwrelease.versions import parse_version, satisfies  # noqa: E402

# Runs an older tree's CLI from this tree's venv: the editable install's finder would import this tree.
OLD_LAUNCH = ("import sys; sys.meta_path = [f for f in sys.meta_path if 'Editable' not in type(f).__name__ "
              "and 'Editable' not in getattr(f, '__name__', '')]; sys.path.insert(0, sys.argv.pop(1)); "
              "from mwrelease.cli import main; main()")


@dataclass(kw_only=True)
class Run:
    wall: float
    cpu: float
    rc: int | None  # None: killed at the timeout
    out: str
    err: str


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        rc: int | None = None
        usage = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        proc.returncode = rc if rc is not None else -9  # reaped by wait4 already
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rc=rc,
                   out=out.read().decode(errors="replace"), err=err.read().decode(errors="replace"))


def best(runs: list[Run]) -> Run:
    """The median run by wall clock (the figures are noisy on a shared machine)."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


# -- the answers ---------------------------------------------------------------------------------


class Universe:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._refs: dict[str, list[dict[str, Any]]] = {}

    def refs(self, name: str) -> list[dict[str, Any]]:
        """Newest tag first (the order of preference in this tags-only universe)."""
        if name not in self._refs:
            data = json.loads((self.root / "catalog" / f"{name}.json").read_text())
            self._refs[name] = sorted(data["refs"], key=lambda r: parse_version(r["ref"]), reverse=True)
        return self._refs[name]


def fits(ref: dict[str, Any], core: str, php: str) -> bool:
    req = ref["extension_json"]["requires"]
    return satisfies(core, req["MediaWiki"]) and satisfies(php, req["platform"]["php"])


def check_answer(u: Universe, case: dict[str, Any], chosen: dict[str, str]) -> tuple[list[str], int]:
    """(problems, refs that could take a more preferred tag with everything else unchanged)."""
    problems = []
    core, php = case["core"], case["php"]
    by_ref = {n: next((r for r in u.refs(n) if r["ref"] == v), None) for n, v in chosen.items()}
    for root in case["roots"]:
        if root not in chosen:
            problems.append(f"{root} missing")
    if case.get("pin") and chosen.get(case["pin"][0]) != case["pin"][1]:
        problems.append(f"pin {case['pin']} not kept")
    for name, ref in by_ref.items():
        if ref is None:
            problems.append(f"{name} {chosen[name]} is no ref of the catalog")
            continue
        if not fits(ref, core, php):
            problems.append(f"{name} {chosen[name]} does not fit")
        for dep, c in ref["extension_json"]["requires"].get("extensions", {}).items():
            if dep not in chosen:
                problems.append(f"{name} {chosen[name]} requires {dep}, missing")
            elif not satisfies(chosen[dep], c):
                problems.append(f"{name} {chosen[name]} requires {dep} {c}, got {chosen[dep]}")
    parents: dict[str, list[tuple[str, str]]] = {}
    for name, ref in by_ref.items():
        for dep, c in (ref or {}).get("extension_json", {}).get("requires", {}).get("extensions", {}).items():
            parents.setdefault(dep, []).append((name, c))
    improvable = 0
    for name, version in chosen.items():
        if case.get("pin") and case["pin"][0] == name:
            continue
        for ref in u.refs(name):
            if ref["ref"] == version:
                break
            deps = ref["extension_json"]["requires"].get("extensions", {})
            if (fits(ref, core, php) and all(d in chosen and satisfies(chosen[d], c) for d, c in deps.items())
                    and all(satisfies(ref["ref"], c) for _, c in parents.get(name, []))):
                improvable += 1
                break
    return problems, improvable


def composer_chosen(lock: Path) -> dict[str, str]:
    data = json.loads(lock.read_text())
    return {f"Ext{p['name'].split('/ext')[1]}": p["version"] for p in data["packages"] if p["name"].startswith("mw/ext")}


def mwrelease_chosen(lock: Path) -> dict[str, str]:
    return {c["name"]: c["ref"] for c in json.loads(lock.read_text())["components"]}


# -- engines, in-process ------------------------------------------------------------------------------


def engines(case_dir: Path, case: dict[str, Any], catalog: Any) -> dict[str, tuple[float, str]]:
    from mwrelease.bundle import load_bundle
    from mwrelease.resolve.problem import BundleRules, Target, build_problem

    bundle = load_bundle(case_dir / "bundle.yaml")
    target = Target(core=case["core"], php=(case["php"],))
    t0 = time.process_time()
    problem = build_problem(BundleRules(bundle, catalog, target))
    t_build = time.process_time() - t0
    out: dict[str, tuple[float, str]] = {"translate (versions.py checks)": (t_build, f"{len(problem.cands) - 1} refs")}
    t0 = time.process_time()
    answer = problem.solver.solve()
    t = time.process_time() - t0
    cdcl = {problem.cands[v].name: problem.cands[v].ref or "" for v in answer.chosen}
    out["cdcl (mwrelease/resolve/cdcl.py)"] = (t, f"{len(cdcl)} chosen, {answer.conflicts} conflicts" if answer.satisfiable
                                               else f"impossible, core of {len(answer.core)} clauses")
    try:
        import solv
    except ImportError:
        out["libsolv (solv)"] = (float("nan"), "not installed: pip install solv")
        return out
    # The same problem for libsolv: one solvable per ref (evr = preference rank), one provide per
    # (dependency, allowed set), one same-name rule per extension (libsolv's own).
    t0 = time.process_time()
    pool = solv.Pool()
    repo = pool.add_repo("universe")
    solver_ = problem.solver
    tokens: dict[frozenset[int], str] = {}
    solvables: dict[int, Any] = {}
    for p, vars_ in enumerate(solver_.packages):
        for rank, v in enumerate(vars_):
            s = repo.add_solvable()
            s.name, s.evr, s.arch = f"p{p}", str(len(vars_) - rank), "noarch"
            s.add_provides(pool.rel2id(pool.str2id(s.name), pool.str2id(s.evr), solv.REL_EQ))
            solvables[v] = s
    for v in range(1, len(problem.cands)):
        for _, allowed in solver_.deps[v]:
            token = tokens.setdefault(allowed, f"r{len(tokens)}")
            solvables[v].add_requires(pool.str2id(token))
    for allowed, token in tokens.items():
        for a in allowed:
            solvables[a].add_provides(pool.str2id(token))
    repo.internalize()
    pool.createwhatprovides()
    jobs = []
    for p in sorted(solver_.roots):
        jobs += pool.select(f"p{p}", solv.Selection.SELECTION_NAME).jobs(solv.Job.SOLVER_INSTALL)
    empty_roots = [p for p in solver_.roots if not solver_.packages[p]]
    ls = pool.Solver()
    problems = ls.solve(jobs)
    t = time.process_time() - t0
    if problems or empty_roots:
        out["libsolv (solv)"] = (t, f"impossible, {len(problems) + len(empty_roots)} problem(s): "
                                    + (str(problems[0]) if problems else f"nothing provides p{empty_roots[0]}")[:90])
    else:
        by_key = {(s.name, s.evr): v for v, s in solvables.items()}
        chosen = [by_key[(s.name, s.evr)] for s in ls.transaction().newsolvables()]
        names = [problem.names[solver_.pkg[v]] for v in chosen]
        same = sum(1 for v in chosen if v in set(answer.chosen))
        out["libsolv (solv)"] = (t, f"{len(chosen)} chosen ({len(chosen) - len(set(names))} duplicate names), "
                                    f"{same} refs equal to cdcl's")
    return out


# -- main ----------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--universe", type=Path, default=Path(tempfile.gettempdir()) / "mwrelease-universe")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old-rev", default="6128b3f", help="git revision of the resolvelib resolver ('' to skip)")
    ap.add_argument("--old-timeout", type=float, default=120)
    ap.add_argument("--cases", nargs="*")
    args = ap.parse_args()
    uni: Path = args.universe
    if not (uni / "cases").is_dir():
        print(f"generating the universe in {uni} (seed {args.seed}) ...", flush=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "universe.py"), str(uni), "--seed", str(args.seed)], check=True)
    composer = shutil.which("composer")
    work = Path(tempfile.mkdtemp(prefix="bench-resolver-"))
    old_tree = None
    if args.old_rev:
        old_tree = work / "old"
        old_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.old_rev, "mwrelease"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
    env = dict(os.environ, COMPOSER_ALLOW_SUPERUSER="1", COMPOSER_HOME=str(work / "composer-home"),
               COMPOSER_CACHE_DIR=str(work / "composer-cache"), COMPOSER_ROOT_VERSION="1.0.0", COMPOSER_NO_AUDIT="1")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "mwrelease")], check=True)
    if old_tree is not None:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(old_tree)], check=True)
    u = Universe(uni)
    catalog_dir = uni / "catalog"
    names = args.cases or sorted(p.name for p in (uni / "cases").iterdir())
    print(f"# resolver benchmark {time.strftime('%Y-%m-%d %H:%M')}, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; universe {uni}")
    rows = []
    for name in names:
        case_dir = uni / "cases" / name
        case = json.loads((case_dir / "case.json").read_text())
        row: dict[str, Any] = {"case": name, "roots": len(case["roots"]), "expect": case["expect"]}
        if composer:
            cdir = work / "composer" / name
            cdir.mkdir(parents=True)
            shutil.copy(case_dir / "composer.json", cdir)
            cmd = [composer, "update", "--no-install", "--no-interaction", "--no-plugins", "--no-scripts",
                   "--no-progress", "--no-audit"]
            run(cmd, cwd=cdir, env=env)  # warm Composer's repository cache, as a user's machine has it
            runs = []
            for _ in range(args.repeat):
                (cdir / "composer.lock").unlink(missing_ok=True)
                runs.append(run(cmd, cwd=cdir, env=env))
            r = best(runs)
            row["composer"] = r
            if r.rc == 0:
                chosen = composer_chosen(cdir / "composer.lock")
                row["composer_answer"] = (len(chosen), *check_answer(u, case, chosen))
            else:
                row["composer_says"] = [ln.strip() for ln in r.err.splitlines() if ln.strip().startswith("- ")][:3]
        lock = work / f"{name}.lock.json"
        cli = ["resolve", str(case_dir / "bundle.yaml"), "--core", case["core"], "--catalog", str(catalog_dir), "-o", str(lock)]
        runs = []
        for _ in range(args.repeat):
            lock.unlink(missing_ok=True)
            runs.append(run([sys.executable, "-m", "mwrelease", *cli], env=env))
        r = best(runs)
        row["new"] = r
        if r.rc == 0:
            chosen = mwrelease_chosen(lock)
            row["new_answer"] = (len(chosen), *check_answer(u, case, chosen))
        else:
            row["new_says"] = [ln.strip() for ln in (r.out + r.err).splitlines() if ln.strip().startswith("- ")][:3]
        if old_tree is not None:
            lock.unlink(missing_ok=True)
            r = run([sys.executable, "-c", OLD_LAUNCH, str(old_tree), *cli], env=env, timeout=args.old_timeout)
            row["old"] = r
            if r.rc == 0:
                chosen = mwrelease_chosen(lock)
                row["old_answer"] = (len(chosen), *check_answer(u, case, chosen))
            else:
                row["old_says"] = [ln.strip() for ln in (r.out + r.err).splitlines() if ln.strip()][-3:]
        rows.append(row)
        print_row(row, flush=True)

    print("\n## whole process: wall s (CPU s)")
    print("| case | Composer | mwrelease old (resolvelib) | mwrelease new (cdcl) | new/Composer (wall, CPU) |")
    print("|---|---|---|---|---|")
    for row in rows:
        def fig(key: str) -> str:
            r = row.get(key)
            if r is None:
                return "-"
            tail = " gave up (timeout)" if r.rc is None else (" impossible" if r.rc else "")
            return f"{r.wall:.2f} ({r.cpu:.2f}){tail}"
        def ratio(key: str) -> str:
            if "composer" not in row:
                return "-"
            return f"{row[key].wall / row['composer'].wall:.2f}, {row[key].cpu / row['composer'].cpu:.2f}"
        print(f"| {row['case']} | {fig('composer')} | {fig('old')} | {fig('new')} | {ratio('new')} |")

    print("\n## where the new whole process goes (in-process, CPU s)")
    t0 = time.process_time()
    from mwrelease.catalog import load_catalog

    t_import = time.process_time() - t0
    t0 = time.process_time()
    catalog = load_catalog([str(catalog_dir)])
    n_refs = len(catalog)  # reads every NAME.json
    t_load = time.process_time() - t0
    bare = best([run([sys.executable, "-c", "pass"]) for _ in range(3)])
    cli_start = best([run([sys.executable, "-m", "mwrelease", "--help"]) for _ in range(3)])
    print(f"python start-up {bare.cpu:.2f}; `mwrelease --help` {cli_start.cpu:.2f}; import catalog {t_import:.2f}; "
          f"load the whole snapshot catalog ({n_refs} refs; resolve reads only what it reaches) {t_load:.2f}")
    print("\n## engines on the same translated problem (in-process CPU s)")
    for name in names:
        case_dir = uni / "cases" / name
        case = json.loads((case_dir / "case.json").read_text())
        for engine, (t, what) in engines(case_dir, case, catalog).items():
            print(f"{name:<32} {engine:<32} {t:7.3f}  {what}")


def print_row(row: dict[str, Any], flush: bool = True) -> None:
    parts = [f"\n### {row['case']} ({row['roots']} requested, expect {row['expect']})"]
    for key, label in (("composer", "Composer"), ("old", "mwrelease old"), ("new", "mwrelease new")):
        r = row.get(key)
        if r is None:
            continue
        state = "timeout" if r.rc is None else f"exit {r.rc}"
        line = f"{label:<14} wall {r.wall:7.2f} s  CPU {r.cpu:6.2f} s  {state}"
        ans = row.get(f"{key}_answer")
        if ans:
            n, problems, improvable = ans
            line += f"  {n} extensions, {len(problems)} broken requires{' ' + str(problems[:2]) if problems else ''}, " \
                    f"{improvable} could take a more preferred tag alone"
        parts.append(line)
        for s in row.get(f"{key}_says", []):
            parts.append(f"    {s[:300]}")
    print("\n".join(parts), flush=flush)


if __name__ == "__main__":
    main()
