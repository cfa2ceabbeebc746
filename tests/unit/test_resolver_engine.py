"""The resolver's parts on their own: bulk constraint checks against versions.py, and the CDCL solver
against brute force on random small problems."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from mwrelease.errors import ConstraintError
from mwrelease.resolve.cdcl import Solver
from mwrelease.resolve.constraints import ConstraintChecker
from mwrelease.versions import parse_constraint

SNAPSHOTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "extension-metadata"

VERSIONS = ["0.1", "1.0.0", "1.2", "1.2.0", "1.2.3", "1.2.10", "1.3.0-alpha", "1.3.0-beta2", "1.3.0-RC1", "1.3.0", "1.3.0-patch1",
            "1.39.0", "1.39.17", "1.43.0-rc.0", "1.43.0", "1.43.9", "1.44.0-alpha", "2.0.0-dev", "2.0", "10.0.1", "1.x-dev",
            "dev-master", "dev-REL1_43", "v3.1.4", "2025.03", "banana", ""]
SHAPES = [">= 1.2", "^1.2", "~1.2", "~1.2.3", "1.2.*", "1.x", ">= 1.2.4 < 1.3 || >= 1.3.2", ">= 1.2 <= 1.3.0", "^0.1 || ^2.0",
          "!= 1.3.0", "< 1.3", "> 1.2.3", "== 1.2.3", "1.0 - 2.0", "*", "dev-master", "dev-master || ^1.0", ">= 1.39.0-rc.1",
          "1.39.*", "<> 1.43.0", ">= 1.43 <<< banana", "^1.2@dev", ">=1.3.0-beta", "1.2.3 || 1.3.0",
          # interval ends that meet (constraints.py keeps the stronger bound of each AND group)
          ">= 1.2.3 > 1.2.3", "> 1.2.3 >= 1.2.3", "<= 1.3.0 < 1.3.0", ">= 1.2.3 <= 1.2.3", "== 1.2.3 >= 1.2.3 <= 1.2.3",
          ">= 2.0 < 1.0", "> 1.2 < 1.2.0", ">= 1.2 >= 1.3 <= 2.0 < 10.0.1", "== 1.2.0 || == 1.2", "1.2.* || ^0.1, >= 0.1.1"]


def _metadata_constraints() -> list[str]:
    out: set[str] = set()
    for f in sorted(SNAPSHOTS.glob("*.json")) if SNAPSHOTS.is_dir() else []:
        for ref in json.loads(f.read_text()).get("refs", []):
            req = (ref.get("extension_json") or {}).get("requires") or {}
            for key in ("extensions", "skins"):
                out.update(str(v) for v in (req.get(key) or {}).values())
            if req.get("MediaWiki"):
                out.add(str(req["MediaWiki"]))
            php = (req.get("platform") or {}).get("php")
            if isinstance(php, str):
                out.add(php)
    return sorted(out)


def _reference(constraint: str, version: str) -> bool:
    try:
        return parse_constraint(constraint).allows(version)
    except ConstraintError:
        return False


def test_bulk_checks_equal_versions_py() -> None:
    checker = ConstraintChecker()
    constraints = SHAPES + _metadata_constraints()
    assert len(constraints) > len(SHAPES), "no constraints from the shared metadata"
    disagreements = []
    for constraint in constraints:
        got = checker.allowed(constraint, VERSIONS)
        for version, ours in zip(VERSIONS, got):
            if ours != _reference(constraint, version):
                disagreements.append((constraint, version, ours))
    assert not disagreements, disagreements[:10]


# -- the solver -------------------------------------------------------------------------------------


def _random_problem(rng: random.Random) -> tuple[list[list[int]], list[int], list[tuple[int, int, list[int]]]]:
    packages, var = [], 1
    for _ in range(rng.randint(2, 6)):
        n = rng.randint(0 if rng.random() < 0.1 else 1, 3)
        packages.append(list(range(var, var + n)))
        var += n
    roots = sorted(rng.sample(range(len(packages)), rng.randint(1, min(3, len(packages)))))
    deps = []
    for p, vars_ in enumerate(packages):
        for v in vars_:
            for q in rng.sample(range(len(packages)), rng.randint(0, 2)):
                if q != p:
                    deps.append((v, q, [w for w in packages[q] if rng.random() < 0.6]))
    return packages, roots, deps


def _assignments(packages: list[list[int]]) -> itertools.product[tuple[int, ...]]:
    return itertools.product(*[[0, *vs] for vs in packages])


def _valid(pick: tuple[int, ...], roots: list[int], deps: list[tuple[int, int, list[int]]]) -> bool:
    chosen = set(pick)
    return all(pick[r] for r in roots) and all(v not in chosen or pick[q] in allowed for v, q, allowed in deps)


@pytest.mark.parametrize("seed", range(300))
def test_solver_agrees_with_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    packages, roots, deps = _random_problem(rng)
    solver = Solver(packages, roots)
    for r in roots:
        solver.add_clause(packages[r], ("root", r))
    for i, (v, q, allowed) in enumerate(deps):
        solver.add_dependency(v, q, allowed, ("dep", i))
    answer = solver.solve()
    solutions = [a for a in _assignments(packages) if _valid(a, roots, deps)]
    assert answer.satisfiable == bool(solutions)
    if answer.satisfiable:
        pick = tuple(next((v for v in vs if v in answer.chosen), 0) for vs in packages)
        assert _valid(pick, roots, deps)
        # Nothing could take a more preferred ref with the rest unchanged.
        for p, vs in enumerate(packages):
            if pick[p]:
                for better in vs[:vs.index(pick[p])]:
                    assert not _valid(pick[:p] + (better,) + pick[p + 1:], roots, deps)
        # The first package decided (the lowest-numbered root) gets the best ref any answer gives it.
        first = roots[0]
        assert packages[first].index(pick[first]) == min(packages[first].index(s[first]) for s in solutions)
    else:
        # The core alone is already impossible.
        core_roots = [r for r in roots if ("root", r) in answer.core]
        core_deps = [d for i, d in enumerate(deps) if ("dep", i) in answer.core]
        assert not any(_valid(a, core_roots, core_deps) for a in _assignments(packages))
