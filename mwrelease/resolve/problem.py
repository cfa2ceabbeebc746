"""A bundle as a problem for the solver (mwrelease/resolve/cdcl.py): which refs of each extension the bundle
allows and the target core and PHP versions fit (``BundleRules``), in which order they are preferred
(``preference_key``), and the clauses between them (``build_problem``), each tagged with the requirement it
stands for so that a conflict can be explained (mwrelease/resolve/explain.py). Pure: no I/O.

Preference among fitting refs: the core's own REL branch (or the copy bundled with core), then the
newest tag, then older REL branches, then newer REL branches, then development branches (master/main).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mwrelease.bundle import Bundle, Component
from mwrelease.catalog import Candidate, Catalog
from mwrelease.errors import ConstraintError
from mwrelease.resolve.cdcl import Solver
from mwrelease.resolve.constraints import ConstraintChecker, Versions
from mwrelease.versions import Version, core_line, parse_version


@dataclass(frozen=True, kw_only=True)
class Requirement:
    name: str
    component: Component | None = None  # the bundle's entry, when the bundle names it
    constraint: str | None = None  # version constraint from a parent's requires.extensions
    parent: Candidate | None = None

    def describe(self) -> str:
        who = self.parent.label if self.parent else "the bundle"
        what = self.name + (f" {self.constraint}" if self.constraint and self.constraint != "*" else "")
        if self.parent is None and self.component is not None and self.component.ref is not None:
            what += f" at ref {self.component.ref}"
        return f"{who} requires {what}"


@dataclass(frozen=True, kw_only=True)
class Target:
    core: str
    php: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        return core_line(self.core)


def preference_key(cand: Candidate, line: str) -> tuple[Any, ...]:
    """Lower sorts first (more preferred)."""
    ref = cand.ref
    if cand.ref_type == "tag" and ref and not ref.startswith("REL"):  # the usual case (no rel_line), first
        key = _tag_key(ref)
        if key is not None:
            return key
    rel = cand.rel_line
    if cand.ref_type == "bundled" or rel == line:
        return (0, 0)
    if cand.ref_type == "tag" and cand.ref:
        key = _tag_key(cand.ref)
        # a tag that is no version ("2025-03-15"): newest commit first
        return key if key is not None else (1, 1, _NegStr(cand.commit_date or ""))
    if rel is not None:
        try:
            if parse_version(rel) <= parse_version(line):
                return (2, _neg(parse_version(rel)))
        except ConstraintError:
            pass
        return (3, 0)  # a newer line's REL branch: stable at least, unlike master
    if cand.ref_type in ("branch", "tree"):
        return (4, 0)
    return (5, 0)


@functools.lru_cache(maxsize=4096)
def _tag_key(tag: str) -> tuple[Any, ...] | None:
    """A version tag's place among tags (the same tag names recur across extensions: parsed once)."""
    try:
        return (1, 0, _neg(parse_version(tag.removeprefix("v"))))
    except ConstraintError:
        return None


class _NegStr(str):
    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


def _neg(v: Version) -> tuple[Any, ...]:
    """A key that sorts versions newest first, compared without a Python-level ``__lt__`` (sorting thousands
    of refs compares it tens of thousands of times). A numbered version's key is (0, pieces), pieces pairs of
    ints ending in (4, -1) and holding it nowhere else, so no pieces is a proper prefix of another: negating
    every int reverses their order exactly. Branches (key (1, name)) sort above every numbered version."""
    pieces = v._key[1]  # noqa: SLF001
    if not isinstance(pieces, str):
        return (1, tuple(-i for pair in pieces for i in pair))
    return (0, _NegStr(pieces))


class BundleRules:
    """What the bundle allows of each extension, and what fits the target core and PHP; results of
    constraint checks are remembered for the run (a catalog repeats the same strings thousands of times)."""

    def __init__(self, bundle: Bundle, catalog: Catalog, target: Target) -> None:
        self.bundle = bundle
        self.catalog = catalog
        self.target = target
        self.by_name = {c.name: c for c in bundle.components}
        self._fits: dict[tuple[Any, ...], bool] = {}
        self.checker = ConstraintChecker()

    def version_ok(self, cand: Candidate, constraint: str) -> bool:
        """``compat.dependency_version_ok``, in bulk."""
        if constraint.strip() == "*":
            return True
        version = cand.clean_version
        return version is not None and self.checker.allows(constraint, version)

    def allowed(self, req: Requirement, cand: Candidate) -> bool:
        """The bundle's and the parent's wishes, without looking at core/PHP."""
        comp = req.component or self.by_name.get(req.name)
        if comp is None and self.bundle.dependencies == "explicit":
            return False
        if comp is not None:
            src = comp.source
            if src.type == "bundled" and not (cand.ref_type == "bundled" or cand.rel_line == self.target.line):
                return False
            if src.type == "git" and cand.origin != f"git:{src.url}":
                return False
            if src.type == "path" and (cand.path is None or not cand.path.startswith(src.path or "\0")):
                return False
            if comp.ref is not None and cand.ref != comp.ref:
                return False
            if comp.commit is not None and not (cand.commit or "").startswith(comp.commit):
                return False
            if comp.refs == "rel-branch" and cand.rel_line is None and cand.ref_type != "bundled":
                return False
            if comp.refs == "tags" and cand.ref_type != "tag":
                return False
            if comp.version is not None and not self.version_ok(cand, comp.version):
                return False
            if cand.kind != comp.kind:
                return False
        if req.constraint is not None and not self.version_ok(cand, req.constraint):
            return False
        return True

    def fits(self, cand: Candidate) -> bool:
        if not cand.has_manifest:
            return False
        req = cand.requires
        php = req.platform.get("php")  # req.php, else composer.json's require.php: compat's PHP rule
        key = (req.mediawiki, php if isinstance(php, str) else cand.composer_require.get("php"))
        hit = self._fits.get(key)
        if hit is None:
            hit = self._fits[key] = self.checker.platform_ok(*key, core=self.target.core, php=self.target.php)
        return hit


def dependencies(cand: Candidate) -> Iterable[tuple[str, str]]:
    req = cand.requires
    if not req.skins:  # the usual case, without a generator (this runs for every ref of a large request)
        return req.extensions.items()
    return [*req.extensions.items(), *req.skins.items()]


@dataclass(kw_only=True)
class Problem:
    """A bundle as clauses for the solver: one variable per fitting, allowed ref of every extension the
    bundle's entries can reach through ``requires``; each clause tagged with the requirement it stands for."""

    solver: Solver
    names: list[str]  # package number -> name
    cands: list[Candidate]  # variable -> ref (index 0 unused)
    domains: dict[str, list[int]]
    by_name: Mapping[str, Component]

    def requirement(self, tag: Hashable) -> Requirement:
        """The requirement a clause stands for: ("bundle", name) or ("requires", variable, name, constraint)."""
        assert isinstance(tag, tuple)
        if tag[0] == "bundle":
            return Requirement(name=tag[1], component=self.by_name[tag[1]])
        _, var, dep, constraint = tag
        return Requirement(name=dep, component=self.by_name.get(dep), constraint=constraint, parent=self.cands[var])


def build_problem(rules: BundleRules) -> Problem:
    bundle, catalog, line, fits = rules.bundle, rules.catalog, rules.target.line, rules.fits
    domains: dict[str, list[Candidate]] = {}
    todo = [c.name for c in bundle.components]
    while todo:
        name = todo.pop()
        if name in domains:
            continue
        comp = rules.by_name.get(name)
        if comp is None and bundle.dependencies != "explicit":  # rules.allowed admits every ref of it
            dom = [c for c in catalog.candidates(name) if fits(c)]
        else:
            base = Requirement(name=name, component=comp)
            dom = [c for c in catalog.candidates(name) if rules.allowed(base, c) and fits(c)]
        domains[name] = sorted(dom, key=lambda c: preference_key(c, line))
        for c in dom:
            for d, _ in dependencies(c):
                if d not in domains:
                    todo.append(d)
    # The bundle's entries first, in name order, then what they pull in: the order decisions are made in.
    names = sorted(domains, key=lambda n: (n not in rules.by_name, n))
    cands: list[Candidate] = [Candidate(name="", kind="extension", ref=None, ref_type="none")]
    var_domains: dict[str, list[int]] = {}
    for name in names:
        var_domains[name] = list(range(len(cands), len(cands) + len(domains[name])))
        cands.extend(domains[name])
    number = {n: p for p, n in enumerate(names)}
    solver = Solver([var_domains[n] for n in names], [number[c.name] for c in bundle.components])
    for comp in bundle.components:
        solver.add_clause(var_domains[comp.name], ("bundle", comp.name))
    # Each (dependency, constraint) is evaluated once, against the dependency's versions parsed once; the
    # refs of a large request repeat them (10,000 requires, 6,000 distinct, 1,700 distinct constraints).
    checker = rules.checker
    versions = [c.clean_version or "" for c in cands]
    dep_versions: dict[str, Versions] = {}
    memo: dict[tuple[str, str], tuple[int, list[int], frozenset[int]]] = {}
    add = solver.add_dependency_of
    for var in range(1, len(cands)):
        req = cands[var].requires
        if req.skins:
            deps: Iterable[tuple[str, str]] = [*req.extensions.items(), *req.skins.items()]  # dependencies()
        elif req.extensions:
            deps = req.extensions.items()
        else:
            continue
        for dep, constraint in deps:
            known = memo.get((dep, constraint))
            if known is None:
                # compat.dependency_version_ok, in bulk: "*" takes any ref, else the declared version must match
                # (a ref without one has no version to parse: the checker allows it nothing).
                vars_ = var_domains[dep]
                if constraint.strip() == "*":
                    allowed = vars_
                else:
                    vs = dep_versions.get(dep)
                    if vs is None:
                        vs = dep_versions[dep] = checker.versions_of([versions[v] for v in vars_])
                    allowed = checker.select(constraint, vs, vars_)
                known = memo[(dep, constraint)] = (number[dep], allowed, frozenset(allowed))
            add(var, known[0], known[1], known[2], ("requires", var, dep, constraint))
    return Problem(solver=solver, names=names, cands=cands, domains=var_domains, by_name=rules.by_name)
