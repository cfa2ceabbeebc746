"""Resolve a bundle to a lock with resolvelib (pip's backtracking resolver).

The provider filters each extension's candidates by what the bundle allows (source, pinned ref,
ref policy, version constraint) and by the declared requirements against the target core and PHP
versions; resolvelib does the search and, on failure, hands back structured causes that
``explain`` turns into sentences a release manager understands.

Preference among fitting refs: the core's own REL branch (or the copy bundled with core), then the
newest tag, then older REL branches, then newer REL branches, then development branches (master/main).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import resolvelib
from resolvelib.resolvers import RequirementInformation, ResolutionImpossible, ResolutionTooDeep

from mwrelease import __version__
from mwrelease.bundle import Bundle, Component
from mwrelease.catalog import Candidate, Catalog
from mwrelease.compat import dependency_version_ok, platform_reasons
from mwrelease.errors import ConfigError, ConstraintError, ResolutionError
from mwrelease.lock import Lock, LockedComponent, Source
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


class BundleProvider(resolvelib.AbstractProvider[Requirement, Candidate, str]):
    def __init__(self, bundle: Bundle, catalog: Catalog, target: Target) -> None:
        self.bundle = bundle
        self.catalog = catalog
        self.target = target
        self.by_name = {c.name: c for c in bundle.components}

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.name

    def narrow_requirement_selection(self, identifiers: Iterable[str], resolutions: Mapping[str, Candidate],
                                     candidates: Mapping[str, Iterator[Candidate]],
                                     information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
                                     backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]]) -> Iterable[str]:
        # Resolve what caused the last backtrack first (as pip does), else the bundle's own entries in name
        # order; one identifier is enough, which spares resolvelib a preference call per unresolved name.
        ids = list(identifiers)
        causes = {c.requirement.name for c in backtrack_causes}
        first = [i for i in ids if i in causes]
        return [min(first or ids, key=lambda i: (i not in self.by_name, i))]

    def get_preference(self, identifier: str, resolutions: Mapping[str, Candidate], candidates: Mapping[str, Iterator[Candidate]],
                       information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
                       backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]]) -> Any:
        return (identifier not in self.by_name, identifier)

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
            if comp.version is not None and not dependency_version_ok(cand, comp.version):
                return False
            if cand.kind != comp.kind:
                return False
        if req.constraint is not None and not dependency_version_ok(cand, req.constraint):
            return False
        return True

    def fits(self, cand: Candidate) -> bool:
        return cand.has_manifest and not platform_reasons(cand, core=self.target.core, php=self.target.php)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Requirement]],
                     incompatibilities: Mapping[str, Iterator[Candidate]]) -> Iterable[Candidate]:
        reqs = list(requirements[identifier])
        bad = {id(c) for c in incompatibilities[identifier]}
        out = [c for c in self.catalog.candidates(identifier)
               if id(c) not in bad and self.fits(c) and all(self.allowed(r, c) for r in reqs)]
        return sorted(out, key=lambda c: preference_key(c, self.target.line))

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return self.allowed(requirement, candidate)

    def get_dependencies(self, candidate: Candidate) -> Iterable[Requirement]:
        for deps in (candidate.requires.extensions, candidate.requires.skins):
            for name, constraint in deps.items():
                yield Requirement(name=name, component=self.by_name.get(name), constraint=constraint, parent=candidate)


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


def resolve(bundle: Bundle, catalog: Catalog, target: Target, *, max_rounds: int = 20000) -> Resolution:
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
    provider = BundleProvider(bundle, catalog, target)
    resolver: resolvelib.Resolver[Requirement, Candidate, str] = resolvelib.Resolver(provider, resolvelib.BaseReporter())
    roots = [Requirement(name=c.name, component=c) for c in bundle.components]
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        raise ResolutionError(f"Cannot resolve bundle {bundle.name} for MediaWiki {target.core}"
                              + (f" and PHP {', '.join(target.php)}" if target.php else "") + ":",
                              details=explain(exc.causes, provider),
                              hint="Change the bundle (drop or re-pin the extension), or target another core version.") from None
    except ResolutionTooDeep:
        raise ResolutionError(f"Resolving bundle {bundle.name} took more than {max_rounds} rounds without an answer.",
                              hint="Pin refs of the largest extensions in the bundle to narrow the search.") from None

    chosen: dict[str, Candidate] = dict(result.mapping)
    required_by: dict[str, list[str]] = {}
    for name in chosen:
        parents = [p for p in result.graph.iter_parents(name)]
        required_by[name] = sorted(ROOT if p is None else p for p in parents)
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


def explain(causes: Iterable[RequirementInformation[Requirement, Candidate]], provider: BundleProvider) -> list[str]:
    """Sentences from resolvelib's structured causes."""
    target = provider.target
    by_name: dict[str, list[Requirement]] = {}
    for cause in causes:
        by_name.setdefault(cause.requirement.name, []).append(cause.requirement)
    lines: list[str] = []
    for name, reqs in by_name.items():
        comp = provider.by_name.get(name)
        options = provider.catalog.candidates(name)
        parents = [r for r in reqs if r.parent is not None]
        if comp is None and parents:
            # resolvelib tried every ref of the parent; name the one the bundle would have picked.
            parent_refs = sorted({id(p.parent): p.parent for p in parents if p.parent}.values(),
                                 key=lambda c: preference_key(c, target.line))
            who = parent_refs[0].label
            if len(parent_refs) > 1:
                who += f" (and {len(parent_refs) - 1} other ref{'s' if len(parent_refs) > 2 else ''} of {parent_refs[0].name})"
            if provider.bundle.dependencies == "explicit":
                lines.append(f"{who} requires {name}, which the bundle does not include.")
                continue
            if not options:
                lines.append(f"{who} requires {name}, which neither the bundle nor any catalog source provides.")
                continue
        allowed = [c for c in options if all(provider.allowed(r, c) for r in reqs)]
        if allowed:
            best = sorted(allowed, key=lambda c: preference_key(c, target.line))[0]
            why = platform_reasons(best, core=target.core, php=target.php)
            if why:
                lines.append(f"{why[0].message.replace('; core is', '; the bundle targets')} "
                             f"(and no other allowed ref of {name} fits: {len(allowed)} considered).")
            elif not best.has_manifest:
                lines.append(f"{best.label} has no extension.json/skin.json, so it cannot be loaded with wfLoadExtension.")
            else:
                lines.append(f"No ref of {name} satisfies every requirement at once: " + "; ".join(r.describe() for r in reqs) + ".")
            continue
        if len(reqs) > 1 or parents:
            lines.append(f"No ref of {name} satisfies every requirement at once: " + "; ".join(r.describe() for r in reqs) + ".")
        elif comp is not None:
            lines.append(f"No ref of {name} matches the bundle's entry ({describe_component(comp)}); "
                         f"the catalog has {len(options)} ref(s): {', '.join(sorted({c.ref or '?' for c in options})[:8])}.")
    return lines


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
