"""Why a bundle cannot be resolved: sentences a release manager understands, from the requirements the
solver's conflict rests on (its unsatisfiable core). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from mwrelease.bundle import Component
from mwrelease.compat import platform_reasons
from mwrelease.resolve.problem import BundleRules, Problem, Requirement, preference_key


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
