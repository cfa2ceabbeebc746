"""The compatibility site: static HTML pages people browse to pick an extension ref for their core.

``plan_site(...)`` is pure: catalog + core versions + results + seals in, a ``Site`` value out (one
``ExtensionSummary`` per extension, with a state per ref and core line). ``write_site(site, DIR)``
renders it with the Jinja2 templates in ``templates/site`` (autoescaped) and writes::

    DIR/index.html            one row per extension: recommended ref per core line, "tested up to"
    DIR/ext/NAME.html         refs x core x PHP x database, declared and tested states, failing logs
    DIR/badges/NAME.svg       "MediaWiki | tested 1.43" per extension, BUNDLE.svg per seal
    DIR/site.json             the index data (what the index page shows), for scripts
    DIR/static/site.{css,js}  styles and the search/filter script (vanilla JS, no network)

States (one CSS class each) and the other values the pages show are in site_model.py.

The recommended ref for a core line (as Jenkins' plugin site and WordPress' directory recommend one
version per core): among the refs not tested as failed on that line, the best tier first — tested
passed, then declared compatible, then the line's own REL branch when it declares nothing — and within a
tier the line's REL branch (what ExtensionDistributor hands out), then the newest commit.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mwrelease.catalog import Candidate, Catalog
from mwrelease.compat import Reason
from mwrelease.errors import ConfigError
from mwrelease.report.site_model import STATES, ExtensionSummary, Failure, InputFile, RefOnLine, SealBadge, Site, TestedCell
from mwrelease.versions import core_line, parse_version

LOG_CHARS = 2000  # per failing check on a page: the end of the log, where the error is


# --- reading inputs (I/O at the edge) -----------------------------------------------------------------

def load_results(paths: Iterable[Path]) -> list[tuple[str, Any]]:
    """(path, Results) per results file."""
    from mwrelease.runner.results import Results

    return [(str(p), Results.load(p)) for p in paths]


def load_seal(path: Path) -> dict[str, Any]:
    """A seal statement (``mwrelease seal -o``) as JSON, checked for its predicate type."""
    from mwrelease.jsonfile import read_json
    from mwrelease.seal import PREDICATE_TYPE

    data = read_json(path, what="Seal statement", hint="Make one with `mwrelease seal RESULTS -o FILE`.")
    if not isinstance(data, dict) or data.get("predicateType") != PREDICATE_TYPE:
        raise ConfigError(f"{path} is not an mwrelease seal statement (predicateType "
                          f"{data.get('predicateType') if isinstance(data, dict) else None!r}, expected {PREDICATE_TYPE!r}).",
                          hint="Make one with `mwrelease seal RESULTS -o FILE`.")
    return data


def generated_at() -> str:
    """Now in UTC, or ``$SOURCE_DATE_EPOCH`` (reproducible builds: the same inputs give the same bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = time.gmtime(int(epoch)) if epoch and epoch.isdigit() else time.gmtime()
    return time.strftime("%Y-%m-%d %H:%M UTC", t)


# --- planning (pure) ----------------------------------------------------------------------------------

def tested_cells(results: Iterable[Any]) -> dict[tuple[str, str], list[TestedCell]]:
    """(name, ref) -> every cell of the results that loaded that component, judged by the seal policy."""
    from mwrelease.runner.results import Results, excerpt
    from mwrelease.seal import component_in_cell

    out: dict[tuple[str, str], list[TestedCell]] = {}
    for r in results:
        assert isinstance(r, Results)
        comps = {lk["sha256"]: lk.get("components", []) for lk in r.locks}
        for cell in r.cells:
            for comp in comps.get(cell.lock_digest, []):
                name = str(comp["name"])
                status, why = component_in_cell(cell, name)
                if status == "skipped" and cell.components and name not in cell.components:
                    continue  # an isolated cell of another component: says nothing about this one
                bad = [c for c in cell.checks if c.required and c.bad]
                if status == "failed":
                    shown = [c for c in bad if name in c.blame]
                elif status == "inconclusive":
                    shown = [c for c in bad if not c.blame or c.component == name]
                else:
                    shown = []
                out.setdefault((name, str(comp.get("ref") or "-")), []).append(TestedCell(
                    cell_id=cell.id, bundle=cell.bundle, core_line=cell.core_line,
                    mediawiki_version=cell.mediawiki_version or cell.core, php=cell.php_version or cell.php,
                    db=cell.db, primary=cell.primary, status=status, why=tuple(w for w in why if w),
                    failures=tuple(Failure(check=c.name, message=c.message, log=excerpt(c.log, LOG_CHARS),
                                           blame=c.blame) for c in shown)))
    return out


def seal_badges(statements: Iterable[Mapping[str, Any]]) -> tuple[list[SealBadge], dict[str, list[SealBadge]]]:
    """(bundle badges, extension name -> its component badges) from seal statements."""
    bundles: list[SealBadge] = []
    per: dict[str, list[SealBadge]] = {}
    for st in statements:
        p = st["predicate"]
        line = str(p.get("core", {}).get("line", "?"))
        bundles.append(SealBadge(bundle=str(p["bundle"]), line=line, verdict=str(p["verdict"])))
        for name, comp in sorted(p.get("components", {}).items()):
            per.setdefault(name, []).append(SealBadge(bundle=str(p["bundle"]), line=line,
                                                      verdict=str(comp.get("verdict")), ref=comp.get("ref")))
    return bundles, per


def recommend(refs: Sequence[str], cells: Mapping[str, RefOnLine], line: str,
              commit_dates: Mapping[str, str]) -> str | None:
    """The ref to recommend on a line (module docstring: the rule)."""
    tier = {"tested-passed": 3, "declared-compatible": 2, "tested-skipped": 2}
    best: tuple[Any, ...] | None = None
    pick = None
    for ref in refs:
        c = cells.get(ref)
        if c is None:
            continue
        own_branch = _rel_line(ref) == line
        t = tier.get(c.state, 0)
        if t == 0 and c.state == "declared-unknown" and own_branch:
            t = 1
        if t == 0:
            continue
        key = (t, own_branch, commit_dates.get(ref, ""), ref)
        if best is None or key > best:
            best, pick = key, ref
    return pick


def _rel_line(ref: str) -> str | None:
    m = re.fullmatch(r"REL(\d+)_(\d+)", ref)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _line_key(line: str) -> Any:
    return parse_version(line)


def slugify(name: str, taken: set[str]) -> str:
    """A file name for an extension page: readable, and distinct even for names that differ only in
    characters a file name cannot hold (``A B`` and ``A_B``) or in case (case-insensitive file systems)."""
    base = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).lstrip(".") or "_"
    slug = base
    if slug != name or slug.lower() in taken:
        slug = f"{base}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    taken.add(slug.lower())
    return slug


def plan_site(catalog: Catalog, cores: Sequence[str], *, php: Sequence[str] = (), results: Sequence[tuple[str, Any]] = (),
              seals: Sequence[tuple[str, Mapping[str, Any]]] = (), generated_by: str = "",
              generated_at_text: str = "") -> Site:
    """Everything the pages show, computed once. ``cores``: core versions ("1.43.9"); the lines of the
    results' cells are added (with the cell's core version) when they are not among them."""
    from mwrelease.matrix import declared_matrix

    from mwrelease.runner.results import Results

    core_of: dict[str, str] = {}
    for c in cores:
        core_of.setdefault(core_line(c), c)
    for _, r in results:
        assert isinstance(r, Results)
        for cell in r.cells:
            core_of.setdefault(cell.core_line, cell.core)
    if not core_of:
        raise ConfigError("The site needs at least one core version.",
                          hint="Pass --core 1.39.17,1.43.9 (or results files, whose cells name their cores).")
    lines = tuple(sorted(core_of, key=_line_key))
    rows = declared_matrix(catalog, [core_of[ln] for ln in lines], php=php)
    tested = tested_cells(r for _, r in results)
    tested_refs: dict[str, list[str]] = {}
    for (tname, ref) in tested:
        tested_refs.setdefault(tname, []).append(ref)
    bundle_badges, comp_badges = seal_badges(st for _, st in seals)

    by_name: dict[str, list[Any]] = {}
    for row in rows:
        by_name.setdefault(row.candidate.name, []).append(row)
    names = list(by_name)
    for name in tested_refs:
        if name not in by_name:
            by_name[name] = []
            names.append(name)
    taken: set[str] = set()
    extensions = []
    for name in sorted(names, key=str.lower):
        cands: dict[str, Candidate] = {}
        grid: dict[tuple[str, str], RefOnLine] = {}
        for row in by_name[name]:
            ref = row.candidate.ref or "-"
            cands.setdefault(ref, row.candidate)
            line = core_line(row.core)
            grid[(ref, line)] = RefOnLine(ref=ref, line=line, core=row.core, declared=row.status,
                                          reasons=row.reasons, tested=tuple(t for t in tested.get((name, ref), ())
                                                                            if t.core_line == line))
        for ref in tested_refs.get(name, ()):
            if ref in cands:
                continue
            cells = tested[(name, ref)]
            # Tested but not in the catalog (a path or tree source): shown, declared state unknown.
            for line in lines:
                here = tuple(t for t in cells if t.core_line == line)
                grid[(ref, line)] = RefOnLine(ref=ref, line=line, core=core_of[line], declared="unknown",
                                              reasons=(Reason(code="not-in-catalog",
                                                              message=f"{name} {ref} is not in the catalog"),),
                                              tested=here)
        dates = {ref: c.commit_date or "" for ref, c in cands.items()}
        refs = sorted({ref for ref, _ in grid}, key=lambda r: (_rel_key(r), dates.get(r, ""), r), reverse=True)
        recommended = {line: recommend(refs, {r: grid[(r, line)] for r in refs if (r, line) in grid}, line, dates)
                       for line in lines}
        passed_lines = [line for line in lines if any(grid[(r, line)].state == "tested-passed"
                                                      for r in refs if (r, line) in grid)]
        first = next(iter(cands.values()), None)
        extensions.append(ExtensionSummary(
            name=name, kind=first.kind if first else "extension", slug=slugify(name, taken), refs=tuple(refs),
            grid=grid, recommended=recommended, tested_up_to=passed_lines[-1] if passed_lines else None,
            seals=tuple(comp_badges.get(name, ())), repo=first.repo if first else None))
    inputs = [InputFile(path=p, digest=r.digest(), what="results",
                        note=f"{len(r.cells)} cells, {', '.join(sorted({lk['bundle'] for lk in r.locks}))}")
              for p, r in results]
    inputs += [InputFile(path=p, digest=hashlib.sha256(_canonical(st)).hexdigest(), what="seal",
                         note=f"{st['predicate'].get('bundle')}: {st['predicate'].get('verdict')}") for p, st in seals]
    counts: dict[str, int] = {s: 0 for s in STATES}
    for e in extensions:
        for line in lines:
            s = e.index_state(line)
            if s:
                counts[s] += 1
    return Site(lines=lines, cores=dict(core_of), php=tuple(php), extensions=tuple(extensions), inputs=tuple(inputs),
                seals=tuple(bundle_badges), generated_by=generated_by, generated_at=generated_at_text or generated_at(),
                catalog_sources=tuple(catalog.sources), counts=counts)


def _rel_key(ref: str) -> tuple[int, ...]:
    # REL branches by line number; other refs (master, tags) sort by date after them.
    m = re.fullmatch(r"REL(\d+)_(\d+)", ref)
    return (int(m.group(1)), int(m.group(2))) if m else (0,)


def _canonical(data: Mapping[str, Any]) -> bytes:
    from mwrelease.jsonfile import canonical_json

    return canonical_json(dict(data))
