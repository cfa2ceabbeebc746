"""Resolve a bundle to a lock.

``BundleRules`` (mwrelease/resolve/problem.py) filters each extension's refs by what the bundle allows (source,
pinned ref, ref policy, version constraint) and by the declared requirements against the target core and PHP
versions; ``build_problem`` evaluates every ``requires`` constraint with mwrelease/versions.py and hands the
solver (mwrelease/resolve/cdcl.py, a CDCL search in the manner of libsolv) only which refs meet which
requirement. On failure the solver names the requirements its conflict rests on, and ``explain``
(mwrelease/resolve/explain.py) turns them into sentences a release manager understands.
(benchmarks/bench_resolver.py measured this engine against resolvelib, libsolv through ``solv``, and Composer.)

Preference among fitting refs: see ``preference_key`` in mwrelease/resolve/problem.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mwrelease import __version__
from mwrelease.bundle import Bundle, Component
from mwrelease.catalog import Candidate, Catalog
from mwrelease.errors import ConfigError, ConstraintError, ResolutionError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.resolve.problem import BundleRules, build_problem, dependencies
# Target is part of resolve()'s signature: callers take it from here.
from mwrelease.resolve.problem import Target as Target
from mwrelease.versions import parse_constraint

ROOT = "bundle"


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
        from mwrelease.resolve.explain import also_unfit, explain  # only a failure needs it (and compat)

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
    entries: dict[str, Component] = {}  # bundle.component(name) for every name at once (it searches the tuple)
    for c in bundle.components:
        entries.setdefault(c.name, c)
    order = [c.name for c in bundle.components] + sorted(n for n in chosen if n not in entries)
    comps = []
    for name in order:
        cand = chosen[name]
        comp = entries.get(name)
        comps.append(LockedComponent(
            name=name, kind=cand.kind, ref=cand.ref, ref_type=cand.ref_type, commit=cand.commit,
            version=cand.clean_version, source=lock_source(comp, cand), catalog=cand.origin,
            requires=cand.requires.to_json(), required_by=tuple(required_by.get(name, [ROOT])),
            settings=comp.settings if comp else "", smoke=comp.smoke if comp else (), load=comp.load if comp else True,
        ))
    return Lock(bundle=bundle.name, flavor=bundle.flavor, core_version=target.core, core_line=target.line, php=target.php,
                databases=bundle.databases, components=tuple(comps), generated_by=f"mwrelease {__version__}")
