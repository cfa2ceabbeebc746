"""Resolve a bundle to a lock.

``BundleRules`` filters each extension's refs by what the bundle allows (source, pinned ref, ref policy,
version constraint) and by the declared requirements against the target core and PHP versions;
``build_problem`` evaluates every ``requires`` constraint with mwrelease/versions.py and hands the
solver (mwrelease/resolve/cdcl.py, a CDCL search in the manner of libsolv) only which refs meet which
requirement. On failure the solver names the requirements its conflict rests on, and ``explain`` turns
them into sentences a release manager understands. (benchmarks/bench_resolver.py measured this engine
against resolvelib, libsolv through ``solv``, and Composer.)

Preference among fitting refs: the core's own REL branch (or the copy bundled with core), then the
newest tag, then older REL branches, then newer REL branches, then development branches (master/main).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


from mwrelease import __version__
from mwrelease.bundle import Bundle, Component
from mwrelease.catalog import Candidate, Catalog
from mwrelease.compat import platform_reasons
from mwrelease.errors import ConfigError, ConstraintError, ResolutionError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.resolve.cdcl import Solver
from mwrelease.resolve.constraints import ConstraintChecker
from mwrelease.versions import Version, core_line, parse_constraint, parse_version

ROOT = "bundle"


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
    rel = cand.rel_line
    if cand.ref_type == "bundled" or rel == line:
        return (0, 0)
    if cand.ref_type == "tag" and cand.ref:
        try:
            return (1, 0, _neg(parse_version(re.sub(r"^v", "", cand.ref))))
        except ConstraintError:  # a tag that is no version ("2025-03-15"): newest commit first
            return (1, 1, _NegStr(cand.commit_date or ""))
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


class _NegStr(str):
    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


@dataclass(frozen=True)
class _Neg:
    v: Version

    def __lt__(self, other: _Neg) -> bool:
        return other.v < self.v


def _neg(v: Version) -> _Neg:
    return _Neg(v)


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
        key = (req.mediawiki, req.php if req.php is not None else cand.composer_require.get("php"))  # compat's PHP rule
        hit = self._fits.get(key)
        if hit is None:
            hit = self._fits[key] = self.checker.platform_ok(*key, core=self.target.core, php=self.target.php)
        return hit


def dependencies(cand: Candidate) -> Iterator[tuple[str, str]]:
    for deps in (cand.requires.extensions, cand.requires.skins):
        yield from deps.items()


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
    bundle, catalog, line = rules.bundle, rules.catalog, rules.target.line
    domains: dict[str, list[Candidate]] = {}
    todo = [c.name for c in bundle.components]
    while todo:
        name = todo.pop()
        if name in domains:
            continue
        base = Requirement(name=name, component=rules.by_name.get(name))
        dom = [c for c in catalog.candidates(name) if rules.allowed(base, c) and rules.fits(c)]
        domains[name] = sorted(dom, key=lambda c: preference_key(c, line))
        todo.extend(d for c in dom for d, _ in dependencies(c) if d not in domains)
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
    versions = [c.clean_version or "" for c in cands]
    memo: dict[tuple[str, str], list[int]] = {}
    for var in range(1, len(cands)):
        for dep, constraint in dependencies(cands[var]):
            allowed = memo.get((dep, constraint))
            if allowed is None:
                # compat.dependency_version_ok, in bulk: "*" takes any ref, else the declared version must match.
                vars_ = var_domains[dep]
                allowed = memo[(dep, constraint)] = vars_ if constraint.strip() == "*" else [
                    v for v, ok in zip(vars_, rules.checker.allowed(constraint, [versions[v] for v in vars_])) if ok and versions[v]]
            solver.add_dependency(var, number[dep], allowed, ("requires", var, dep, constraint))
    return Problem(solver=solver, names=names, cands=cands, domains=var_domains, by_name=rules.by_name)


@dataclass(kw_only=True)
class Resolution:
    lock: Lock
    chosen: dict[str, Candidate]
    required_by: dict[str, list[str]] = field(default_factory=dict)


def check_names(bundle: Bundle, catalog: Catalog) -> None:
    unknown = [c for c in bundle.components if c.name not in catalog]
    if unknown:
        details = []
        for c in unknown:
            near = catalog.close_matches(c.name)
            details.append(f"{c.kind} {c.name!r}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
        raise ConfigError(
            f"{bundle.path or bundle.name}: {len(unknown)} {'entries are' if len(unknown) > 1 else 'entry is'} not in any catalog source:",
            details=details,
            hint=f"Check the spelling (names are case-sensitive, as in wfLoadExtension), or add a catalog source that has them "
                 f"(--catalog). Sources read: {', '.join(catalog.sources) or 'none'}.")


def resolve(bundle: Bundle, catalog: Catalog, target: Target) -> Resolution:
    if bundle.core_version is not None:
        try:
            ok = parse_constraint(bundle.core_version).allows(target.core)
        except ConstraintError as exc:
            raise ConfigError(f"{bundle.path}: core.version {bundle.core_version!r} is not a valid constraint: {exc.message}") from None
        if not ok:
            raise ConfigError(f"Core {target.core} does not satisfy the bundle's core.version {bundle.core_version!r}.",
                              hint="Pass a core version the bundle targets with --core.")
    if target.line not in bundle.core_lines:
        raise ConfigError(f"The bundle {bundle.name} targets MediaWiki {', '.join(bundle.core_lines)}, not {target.line} (--core {target.core}).",
                          hint=f"Pass --core with a version of {' or '.join(bundle.core_lines)}, or add {target.line} to core.lines.")
    check_names(bundle, catalog)
    rules = BundleRules(bundle, catalog, target)
    problem = build_problem(rules)
    answer = problem.solver.solve()
    if not answer.satisfiable:
        causes = [problem.requirement(t) for t in answer.core]
        raise ResolutionError(f"Cannot resolve bundle {bundle.name} for MediaWiki {target.core}"
                              + (f" and PHP {', '.join(target.php)}" if target.php else "") + ":",
                              details=explain(causes, rules) + also_unfit(causes, problem, rules),
                              hint="Change the bundle (drop or re-pin the extension), or target another core version.")

    chosen: dict[str, Candidate] = {problem.names[problem.solver.pkg[v]]: problem.cands[v] for v in answer.chosen}
    required_by: dict[str, list[str]] = {name: [ROOT] if name in rules.by_name else [] for name in chosen}
    for parent in chosen.values():
        for dep, _ in dependencies(parent):
            if dep in chosen and parent.name not in required_by[dep]:
                required_by[dep].append(parent.name)
    required_by = {name: sorted(parents) for name, parents in required_by.items()}
    if not bundle.allow_cycles:
        cycle = find_cycle(chosen)
        if cycle:
            raise ResolutionError(
                "Extensions require each other in a cycle: " + " → ".join(f"{n} {chosen[n].ref}" for n in cycle) + ".",
                hint="A cycle in extension.json requires is almost always a packaging mistake; report it to the extension's "
                     "maintainers. If it is intended, set `allow-cycles: true` in the bundle.")
    return Resolution(lock=build_lock(bundle, target, chosen, required_by), chosen=chosen, required_by=required_by)


def find_cycle(chosen: Mapping[str, Candidate]) -> list[str] | None:
    graph = {n: [d for deps in (c.requires.extensions, c.requires.skins) for d in deps if d in chosen] for n, c in chosen.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in graph[n]:
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def explain(causes: Iterable[Requirement], rules: BundleRules) -> list[str]:
    """Sentences from the requirements an impossible bundle's conflict rests on, one per extension where no
    fitting ref meets them all (an extension whose own requirements are met is a link in the chain: its
    requirement on the next one is named in that one's sentence)."""
    target = rules.target
    by_name: dict[str, list[Requirement]] = {}
    for cause in causes:
        by_name.setdefault(cause.name, []).append(cause)
    for name, reqs in by_name.items():
        # The bundle's own entry narrows the refs before the solver sees them: name it beside the others.
        comp = rules.by_name.get(name)
        if comp is not None and all(r.parent is not None for r in reqs):
            reqs.insert(0, Requirement(name=name, component=comp))
        reqs[1:] = sorted(reqs[1:], key=lambda r: (r.parent is not None, r.parent.name if r.parent else "",
                                                     preference_key(r.parent, target.line) if r.parent else ()))
    lines: list[str] = []
    links: list[str] = []
    for name, reqs in by_name.items():
        comp = rules.by_name.get(name)
        options = rules.catalog.candidates(name)
        parents = [r for r in reqs if r.parent is not None]
        if comp is None and parents:
            parent_refs = sorted({id(p.parent): p.parent for p in parents if p.parent}.values(),
                                 key=lambda c: preference_key(c, target.line))
            who = parent_refs[0].label
            if len(parent_refs) > 1:
                who += f" (and {len(parent_refs) - 1} other ref{'s' if len(parent_refs) > 2 else ''} of {parent_refs[0].name})"
            if rules.bundle.dependencies == "explicit":
                lines.append(f"{who} requires {name}, which the bundle does not include.")
                continue
            if not options:
                lines.append(f"{who} requires {name}, which neither the bundle nor any catalog source provides.")
                continue
        allowed = [c for c in options if all(rules.allowed(r, c) for r in reqs)]
        at_once = f"No ref of {name} satisfies every requirement at once: " + "; ".join(r.describe() for r in reqs) + "."
        if allowed:
            if any(rules.fits(c) for c in allowed):
                links.append(at_once)
                continue
            best = sorted(allowed, key=lambda c: preference_key(c, target.line))[0]
            why = platform_reasons(best, core=target.core, php=target.php)
            if why:
                lines.append(f"{why[0].message.replace('; core is', '; the bundle targets')} "
                             f"(and no other allowed ref of {name} fits: {len(allowed)} considered).")
            elif not best.has_manifest:
                lines.append(f"{best.label} has no extension.json/skin.json, so it cannot be loaded with wfLoadExtension.")
            else:
                links.append(at_once)
            continue
        if len(reqs) > 1 or parents:
            lines.append(at_once)
        elif comp is not None:
            lines.append(f"No ref of {name} matches the bundle's entry ({describe_component(comp)}); "
                         f"the catalog has {len(options)} ref(s): {', '.join(sorted({c.ref or '?' for c in options})[:8])}.")
    return lines or links


def also_unfit(causes: list[Requirement], problem: Problem, rules: BundleRules) -> list[str]:
    """When one bundle entry has no fitting ref at all, say how many others share its fate (the
    explanation names only the first)."""
    if len(causes) != 1 or causes[0].parent is not None or problem.domains[causes[0].name]:
        return []
    others = [c.name for c in rules.bundle.components if not problem.domains[c.name] and c.name != causes[0].name]
    if not others:
        return []
    shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
    return [f"{len(others)} other entr{'ies' if len(others) > 1 else 'y'} of the bundle ha{'ve' if len(others) > 1 else 's'} "
            f"no fitting ref either: {shown}."]


def describe_component(comp: Component) -> str:
    parts = [f"source {comp.source.type}" + (f" {comp.source.url or comp.source.path}" if comp.source.url or comp.source.path else "")]
    if comp.ref:
        parts.append(f"ref {comp.ref}")
    if comp.commit:
        parts.append(f"commit {comp.commit}")
    if comp.refs != "any":
        parts.append(f"refs {comp.refs}")
    if comp.version:
        parts.append(f"version {comp.version}")
    return ", ".join(parts)


def lock_source(comp: Component | None, cand: Candidate) -> Source:
    if comp is not None and comp.source.type == "bundled" or comp is None and cand.ref_type == "bundled":
        return Source(type="bundled")
    if comp is not None and comp.source.type == "tarball":
        return Source(type="tarball", url=comp.source.url, sha256=comp.source.sha256)
    if comp is not None and comp.source.type == "path" or cand.path and cand.ref_type == "tree":
        return Source(type="path", path=cand.path)
    url = cand.repo or ""
    if re.fullmatch(r"[\w.-]+/[\w.-]+", url):  # "owner/name" from the snapshots: a GitHub mirror
        url = f"https://github.com/{url}.git"
    return Source(type="git", url=url or None)


def build_lock(bundle: Bundle, target: Target, chosen: Mapping[str, Candidate], required_by: Mapping[str, list[str]]) -> Lock:
    order = [c.name for c in bundle.components] + sorted(n for n in chosen if bundle.component(n) is None)
    comps = []
    for name in order:
        cand = chosen[name]
        comp = bundle.component(name)
        comps.append(LockedComponent(
            name=name, kind=cand.kind, ref=cand.ref, ref_type=cand.ref_type, commit=cand.commit,
            version=cand.clean_version, source=lock_source(comp, cand), catalog=cand.origin,
            requires=cand.requires.to_json(), required_by=tuple(required_by.get(name, [ROOT])),
            settings=comp.settings if comp else "", smoke=comp.smoke if comp else (), load=comp.load if comp else True,
        ))
    return Lock(bundle=bundle.name, flavor=bundle.flavor, core_version=target.core, core_line=target.line, php=target.php,
                databases=bundle.databases, components=tuple(comps), generated_by=f"mwrelease {__version__}")
