"""Fan-out: one test session split over many CI runners, and put back together.

    plan = fanout_plan(session.cells)               # what `mwrelease test --plan-only --json` prints
    one = select(session, ["tarball-1.43@1.43-php8.3-sqlite"])   # what `--cell ID` runs
    results = merge_shards([(path, Results.load(path)) for path in paths])   # `mwrelease results merge`

A plan's digest is the sha256 of its cells' canonical JSON (ids, statuses, reasons and the lock's
sha256), so two runners that planned the same lock with the same options agree on it, and a shard of
another lock or another plan is refused by name instead of being silently mixed into a seal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError
from mwrelease.jsonfile import canonical_json
from mwrelease.runner.plan import Cell
from mwrelease.runner.results import Results


def plan_digest(cells: Sequence[Cell]) -> str:
    return hashlib.sha256(canonical_json([c.to_json() for c in cells])).hexdigest()


def slug(cell_id: str) -> str:
    """A cell id as a file and artifact name: CI artifact names refuse ``/ : < > | * ? \\ "`` and
    brackets are awkward in shell globs; the digest keeps two ids that slug alike apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", cell_id).strip("_")
    return f"{safe[:80]}-{hashlib.sha256(cell_id.encode()).hexdigest()[:8]}"


def fanout_plan(cells: Sequence[Cell]) -> dict[str, Any]:
    """The plan as data: every cell, the plan's digest, and the runnable cells as a CI matrix."""
    return {"plan_sha256": plan_digest(cells), "cells": [c.to_json() for c in cells],
            "matrix": [{"cell": c.id, "slug": slug(c.id)} for c in cells if c.runnable]}


@dataclass(frozen=True, kw_only=True)
class Shard:
    """The cells one runner runs, and the plan they belong to."""

    cells: tuple[Cell, ...]
    plan_sha256: str
    planned: tuple[str, ...]


def select(cells: Sequence[Cell], ids: Sequence[str]) -> Shard:
    """The cells named by ``ids`` (ids as the plan gives them, or their slugs), plus the plan's skipped
    cells: they cost nothing, and the merged results must list them as one run's do (a cell that runs
    is never lost because its shard carried a skipped one twice: merge accepts identical duplicates)."""
    by_id = {c.id: c for c in cells}
    by_slug = {slug(c.id): c for c in cells}
    chosen: list[Cell] = []
    unknown = []
    for i in ids:
        c = by_id.get(i) or by_slug.get(i)
        if c is None:
            unknown.append(i)
        elif c not in chosen:
            chosen.append(c)
    chosen += [c for c in cells if not c.runnable and c not in chosen]
    if unknown:
        raise ConfigError(f"No cell {', '.join(map(repr, unknown))} in this plan.",
                          details=[c.id for c in cells],
                          hint="The ids come from `mwrelease test LOCK --plan-only` with the same options; "
                               "a different lock or options give different cells.")
    order = {c.id: n for n, c in enumerate(cells)}
    chosen.sort(key=lambda c: order[c.id])
    return Shard(cells=tuple(chosen), plan_sha256=plan_digest(cells), planned=tuple(c.id for c in cells))


def stamp(results: Results, shard: Shard) -> Results:
    """Results of a shard, stamped with the plan they belong to."""
    return replace(results, plan_sha256=shard.plan_sha256, planned=shard.planned)


def merge_shards(shards: Sequence[tuple[str, Results]], *, allow_partial: bool = False) -> Results:
    """Results of the cells of one plan, run by several runners, as one results document.

    Refused (ConfigError, naming the files): shards of different plans or locks, results that carry
    no plan, a cell run twice with different outcomes, and (unless ``allow_partial``) planned cells
    that no shard ran. Cells come out in the plan's order, so the merge does not depend on the order
    of the files (CI runners finish in any order).
    """
    if not shards:
        raise ConfigError("Nothing to merge: no results file given.")
    no_plan = [name for name, r in shards if not r.plan_sha256]
    if no_plan:
        raise ConfigError(f"{', '.join(no_plan)} carry no plan (not written by `mwrelease test --cell`), "
                          "so they cannot be checked against the other shards.",
                          hint="Run each cell with `mwrelease test LOCK --cell ID --results FILE`.")
    locks_by_file = {name: sorted({c.lock_digest for c in r.cells} | {str(lk.get("sha256")) for lk in r.locks})
                     for name, r in shards}
    lock_groups: dict[str, list[str]] = {}
    for name, digests in locks_by_file.items():
        lock_groups.setdefault(",".join(d[:12] for d in digests), []).append(name)
    if len(lock_groups) > 1:
        raise ConfigError("The results come from different locks; merging them would mix two bundles' verdicts.",
                          details=[f"lock {k}: {', '.join(v)}" for k, v in lock_groups.items()],
                          hint="Merge only the shards of one `mwrelease test --plan-only` run.")
    plan_groups: dict[str, list[str]] = {}
    for name, r in shards:
        plan_groups.setdefault(r.plan_sha256, []).append(name)
    if len(plan_groups) > 1:
        raise ConfigError("The results come from different plans of the same lock (other --core, --php, --db "
                          "or --isolate options).",
                          details=[f"plan {k[:12]}: {', '.join(v)}" for k, v in plan_groups.items()],
                          hint="Give every cell job the same options as the plan job.")
    planned = shards[0][1].planned
    cells: dict[str, Any] = {}
    ran_in: dict[str, str] = {}
    for name, r in shards:
        for c in r.cells:
            if c.id not in planned:
                raise ConfigError(f"{name} has cell {c.id!r}, which its own plan does not list.")
            if c.id in cells and cells[c.id].status != c.status:
                raise ConfigError(f"Cell {c.id!r} ran twice with different outcomes: {cells[c.id].status} in "
                                  f"{ran_in[c.id]}, {c.status} in {name}.", hint="Keep one of the two files.")
            cells[c.id] = c
            ran_in[c.id] = name
    missing = [i for i in planned if i not in cells]
    if missing and not allow_partial:
        raise ConfigError(f"{len(missing)} planned cell(s) have no results.", details=missing,
                          hint="A cell job failed before writing its file; rerun it, or pass --allow-partial.")
    results = [r for _, r in shards]
    starts = [r.started for r in results if r.started]
    ends = [r.finished for r in results if r.finished]
    return Results(cells=tuple(cells[i] for i in planned if i in cells), locks=results[0].locks,
                   started=min(starts, default=""), finished=max(ends, default=""),
                   generated_by=next((r.generated_by for r in results if r.generated_by), ""),
                   plan_sha256=results[0].plan_sha256, planned=planned)


def load_shards(paths: Sequence[Path]) -> list[tuple[str, Results]]:
    return [(str(p), Results.load(p)) for p in paths]
