"""The compatibility matrix: for every catalog entry (name, ref) and every core version, what its
declared requirements say (``declared``) and, when results files are given, what the container
tests found (``tested``).

JSON form (``mwrelease matrix --format json``, also inside the ``--json`` envelope's ``data.rows``)::

    [{"name": "Cite", "kind": "extension", "ref": "REL1_43", "ref_type": "branch", "commit": "…",
      "core": "1.43.9", "php": ["8.4"],
      "status": "compatible" | "incompatible" | "unknown",        # declared
      "reasons": [{"code": "incompatible-core", "message": "…"}],  # MediaWiki's own error codes
      "tested": "passed" | "failed" | "skipped" | null,            # null: no result for this cell
      "tested_detail": {...} | null}]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwrelease.catalog import Candidate, Catalog
from mwrelease.compat import Reason, Status, declared_status, dependency_reasons, platform_reasons


@dataclass(frozen=True, kw_only=True)
class MatrixRow:
    candidate: Candidate
    core: str
    php: tuple[str, ...]
    status: Status
    reasons: tuple[Reason, ...]
    tested: str | None = None
    tested_detail: Mapping[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "name": c.name, "kind": c.kind, "ref": c.ref, "ref_type": c.ref_type, "commit": c.commit,
            "version": c.clean_version, "core": self.core, "php": list(self.php), "status": self.status,
            "reasons": [r.to_json() for r in self.reasons], "tested": self.tested,
            "tested_detail": dict(self.tested_detail) if self.tested_detail else None,
        }


def declared_matrix(catalog: Catalog, cores: Iterable[str], *, php: Iterable[str] = (),
                    names: Iterable[str] | None = None) -> list[MatrixRow]:
    """One row per (catalog entry, core). ``names``: rows only for these names' refs (in that order),
    while requirements are still checked against the whole catalog: narrowing what is shown must not
    make a dependency (Translate's UniversalLanguageSelector) look missing."""
    cores = list(cores)
    php = tuple(php)
    rows: list[MatrixRow] = []
    for cand in catalog.all() if names is None else only(catalog, names):
        for core in cores:
            reasons = platform_reasons(cand, core=core, php=php)
            if not reasons:
                reasons = dependency_reasons(cand, available=catalog.candidates, core=core, php=php)
            if not cand.has_manifest:
                reasons = [Reason(code="no-manifest", message=f"{cand.label} has no extension.json/skin.json (legacy PHP entry point)")]
            status: Status = "unknown" if not cand.has_manifest else declared_status(cand, reasons)
            rows.append(MatrixRow(candidate=cand, core=core, php=php, status=status, reasons=tuple(reasons)))
    return rows


def only(catalog: Catalog, names: Iterable[str]) -> list[Candidate]:
    """The refs of ``names`` (load names or extension.json aliases), each once, in the order given."""
    seen: set[int] = set()
    out: list[Candidate] = []
    for name in names:
        for cand in catalog.candidates(name):
            if id(cand) not in seen:
                seen.add(id(cand))
                out.append(cand)
    return out


def with_tested(rows: list[MatrixRow], tested: Mapping[tuple[str, str | None, str], tuple[str, Mapping[str, Any]]]) -> list[MatrixRow]:
    """Attach tested results keyed by (name, ref, core line)."""
    from dataclasses import replace

    from mwrelease.versions import core_line

    out = []
    for r in rows:
        hit = tested.get((r.candidate.name, r.candidate.ref, core_line(r.core)))
        out.append(replace(r, tested=hit[0], tested_detail=hit[1]) if hit else r)
    return out


def summary(rows: list[MatrixRow]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(r.core, {"compatible": 0, "incompatible": 0, "unknown": 0})
        d[r.status] += 1
    return out


def results_index(result_files: Iterable[Path]) -> dict[tuple[str, str | None, str], tuple[str, Mapping[str, Any]]]:
    """(name, ref, core line) -> (tested status, detail) from results files of `mwrelease test`.

    Per cell, the seal's own judgement (``seal.component_in_cell``): ``failed`` when a required check
    blames the extension, ``inconclusive`` when another component's failure hid it, ``passed``,
    ``skipped``. Over several cells of one line the worst conclusive answer wins.
    """
    from mwrelease.runner.results import Results
    from mwrelease.seal import component_in_cell

    rank = {"skipped": 0, "inconclusive": 1, "passed": 2, "failed": 3}
    index: dict[tuple[str, str | None, str], tuple[str, dict[str, Any]]] = {}
    for path in result_files:
        results = Results.load(path)
        components = {lk["sha256"]: lk.get("components", []) for lk in results.locks}
        for cell in results.cells:
            for comp in components.get(cell.lock_digest, []):
                status, why = component_in_cell(cell, comp["name"])
                key = (comp["name"], comp.get("ref"), cell.core_line)
                old, detail = index.get(key, ("skipped", {"cells": {}, "why": []}))
                detail["cells"][cell.id] = status
                detail["why"].extend(f"{cell.id}: {w}" for w in why if status == "failed")
                index[key] = (status if rank[status] > rank[old] else old, detail)
    return dict(index)
