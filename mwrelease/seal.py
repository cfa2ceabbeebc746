"""The seal verdict: what the test evidence says about a lock, per extension and for the bundle.

Policy ``mwrelease-seal-policy/1`` (``POLICY`` below is the text that goes into every statement):

In one cell, a component (extension or skin) has
  - *failed*       when a required check failed and its log points at the component (``blame``);
  - *inconclusive* when the cell's setup broke for a reason that blames no component, or one of the
                   component's own checks failed because of another component (that failure hid it);
  - *passed*       otherwise, when the cell ran its checks.
Over the cells of the lock's target line (its own core line; cells of other lines are evidence
for the matrix but not for the seal), a component is
  - *sealed*       passed in every target cell, and the target cells include the primary cell
                   (the line's PHP on SQLite) and every database the lock lists;
  - *provisional*  passed on the primary cell, failed nowhere, but not sealed (a database not yet
                   tested, or a cell inconclusive);
  - *failed*       failed in at least one target cell;
  - *untested*     no target cell ran, or none was conclusive.
The bundle is *failed* when a component failed or a target cell failed with no component to blame,
*sealed* when every component is sealed and every target cell passed, *provisional* when the primary
cell passed and nothing failed, *untested* otherwise.

The statement is in-toto shaped (``_type``, ``subject``, ``predicateType``, ``predicate``) and is
serialised canonically (sorted keys, no whitespace, UTF-8) so that a later step can sign its bytes:
the subject is the lock (its canonical sha256, see ``runner.plan.lock_digest``), the predicate names
the digest of every results file it was computed from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mwrelease.errors import ConfigError
from mwrelease.jsonfile import canonical_json
from mwrelease.runner.results import CellResult, Results

Verdict = Literal["sealed", "provisional", "failed", "untested"]
InCell = Literal["passed", "failed", "inconclusive", "skipped"]
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mwrelease.dev/seal/v1"
POLICY_NAME = "mwrelease-seal-policy/1"
# The policy in one paragraph, carried by every statement (the module docstring says the same).
POLICY = (
    "Per cell, a component failed when a required check failed and its log points at it; is inconclusive "
    "when the setup broke with no component to blame or its own check failed because of another component; "
    "passed otherwise, once the cell ran its checks. Over the cells of the lock's own core line: sealed = passed "
    "in every such cell, including the primary cell (line PHP, SQLite) and every database the lock lists; "
    "provisional = passed on the primary cell, failed nowhere, not sealed; failed = failed in any such cell; "
    "untested = no such cell ran or none was conclusive. The bundle: failed when a component failed or a cell "
    "failed with no component to blame; sealed when all components are sealed and all cells passed; provisional "
    "when the primary cell passed and nothing failed; untested otherwise. Cells of other core lines are evidence, "
    "not part of the verdict.")
SETUP_STEPS = ("image", "database", "container", "install", "place", "localsettings", "update.php", "server")


def component_in_cell(cell: CellResult, name: str) -> tuple[InCell, list[str]]:
    """(status, why) of one component in one cell, by the policy above."""
    if cell.skipped:
        return "skipped", [r.get("message", "") for r in cell.reasons][:1]
    if cell.components and name not in cell.components:
        return "skipped", ["not loaded in this (isolated) cell"]
    bad = [c for c in cell.checks if c.required and c.bad]
    own = [c for c in bad if name in c.blame]
    if own:
        return "failed", [f"{c.name}: {c.message}" for c in own]
    hidden = [c for c in bad if not c.blame or (c.component == name and name not in c.blame)]
    ran_checks = any(c.name.startswith(("siteinfo:", "php-errors")) and c.status != "skipped" for c in cell.checks)
    if hidden or not ran_checks:
        why = [f"{c.name}: {c.message}" + (f" (blamed on {', '.join(c.blame)})" if c.blame else "") for c in hidden]
        return "inconclusive", why or ["the cell did not reach its checks"]
    return "passed", []


@dataclass(frozen=True, kw_only=True)
class ComponentVerdict:
    name: str
    kind: str
    ref: str | None
    verdict: Verdict
    cells: dict[str, InCell]
    other_cells: dict[str, InCell]      # cells of other core lines: evidence, not part of the verdict
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ref": self.ref, "verdict": self.verdict,
                "cells": dict(self.cells), "other_cells": dict(self.other_cells), "reasons": list(self.reasons)}


@dataclass(frozen=True, kw_only=True)
class Seal:
    bundle: str
    lock_sha256: str
    core_line: str
    core_version: str
    databases: tuple[str, ...]
    verdict: Verdict
    reasons: tuple[str, ...]
    components: tuple[ComponentVerdict, ...]
    cells: dict[str, dict[str, Any]]
    results_digests: tuple[str, ...]
    generated_by: str = ""
    lock_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # (file name, sha256) of release artifacts built from the lock: more subjects of the statement, so a
    # signed seal made after `release build` vouches for the exact tarball too.
    artifacts: tuple[tuple[str, str], ...] = ()

    def statement(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": self.lock_name or f"{self.bundle}.lock", "digest": {"sha256": self.lock_sha256}}]
            + [{"name": name, "digest": {"sha256": sha}} for name, sha in self.artifacts],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "format": "mwrelease.seal/1",
                "policy": {"name": POLICY_NAME, "text": POLICY},
                "bundle": self.bundle, "core": {"line": self.core_line, "version": self.core_version},
                "databases": list(self.databases),
                "verdict": self.verdict, "reasons": list(self.reasons),
                "components": {c.name: c.to_json() for c in self.components},
                "cells": self.cells,
                "results": [{"digest": {"sha256": d}} for d in self.results_digests],
                "generated_by": self.generated_by,
            },
        }

    def canonical(self) -> bytes:
        return canonical_json(self.statement())

    def other_lines(self) -> dict[str, dict[str, list[str]]]:
        """Cells of other core lines are evidence for the matrix, not for this seal: per line, the components
        by their worst state there (failed, inconclusive, passed; empty states left out), lines in order."""
        states: dict[str, dict[str, list[str]]] = {}
        for c in self.components:
            for cid, state in c.other_cells.items():
                if state in ("failed", "passed", "inconclusive"):
                    line = str(self.cells.get(cid, {}).get("core_line", "?"))
                    states.setdefault(line, {}).setdefault(c.name, []).append(state)
        out: dict[str, dict[str, list[str]]] = {}
        for line, comps in sorted(states.items()):
            # inconclusive is "no evidence": one cell where it could be judged and passed is enough
            worst = {n: "failed" if "failed" in st else "passed" if "passed" in st else "inconclusive"
                     for n, st in comps.items()}
            for verdict in ("failed", "inconclusive", "passed"):
                names = sorted(n for n, w in worst.items() if w == verdict)
                if names:
                    out.setdefault(line, {})[verdict] = names
        return out

    def counts(self) -> dict[str, int]:
        out = {"sealed": 0, "provisional": 0, "failed": 0, "untested": 0}
        for c in self.components:
            out[c.verdict] += 1
        return out


def seal(results: Sequence[Results], *, lock_sha256: str | None = None, lock_name: str = "",
         generated_by: str = "") -> list[Seal]:
    """One seal per lock found in ``results`` (or only the lock with ``lock_sha256``)."""
    locks: dict[str, dict[str, Any]] = {}
    cells: dict[str, CellResult] = {}
    for r in results:
        for lk in r.locks:
            locks[lk["sha256"]] = lk
        for c in r.cells:
            cells[c.id] = c
    if lock_sha256 is not None:
        if lock_sha256 not in locks:
            raise ConfigError(f"None of the results files tested the lock with sha256 {lock_sha256[:12]}….",
                              hint="Pass results of `mwrelease test` run on this very lock, or omit --lock.",
                              details=[f"{lk['bundle']}: {sha[:12]}…" for sha, lk in locks.items()])
        locks = {lock_sha256: locks[lock_sha256]}
    if not locks:
        raise ConfigError("The results name no lock, so there is nothing to seal.")
    digests = tuple(sorted(r.digest() for r in results))
    return [_seal_one(lk, [c for c in cells.values() if c.lock_digest == sha], digests, lock_name, generated_by)
            for sha, lk in sorted(locks.items(), key=lambda kv: kv[1]["bundle"])]


def _seal_one(lock: dict[str, Any], cells: list[CellResult], digests: tuple[str, ...], lock_name: str,
              generated_by: str) -> Seal:
    line = str(lock["core_line"])
    target = [c for c in cells if c.core_line == line]
    other = [c for c in cells if c.core_line != line]
    ran = [c for c in target if not c.skipped]
    primary = next((c for c in ran if c.primary), None)
    wanted_dbs = set(lock.get("databases") or ["sqlite"])
    tested_dbs = {c.db for c in ran}
    comps: list[ComponentVerdict] = []
    for comp in lock.get("components", []):
        name = str(comp["name"])
        here = {c.id: component_in_cell(c, name) for c in target}
        there = {c.id: component_in_cell(c, name)[0] for c in other}
        states = {cid: s for cid, (s, _) in here.items()}
        reasons = [f"{cid}: {w}" for cid, (s, why) in here.items() if s in ("failed", "inconclusive") for w in why]
        ran_states = [s for s in states.values() if s != "skipped"]
        verdict: Verdict
        if "failed" in ran_states:
            verdict = "failed"
        elif ran_states and all(s == "passed" for s in ran_states) and primary is not None \
                and wanted_dbs <= tested_dbs:
            verdict = "sealed"
        elif primary is not None and states.get(primary.id) == "passed":
            verdict = "provisional"
            if not wanted_dbs <= tested_dbs:
                reasons.append(f"not tested on {', '.join(sorted(wanted_dbs - tested_dbs))}")
        else:
            verdict = "untested"
            if not ran:
                reasons.append(f"no cell of core {line} ran")
            elif primary is None:
                reasons.append(f"the primary cell (core {line}, SQLite) did not run")
        comps.append(ComponentVerdict(name=name, kind=str(comp.get("kind", "extension")), ref=comp.get("ref"),
                                      verdict=verdict, cells=states, other_cells=there, reasons=tuple(reasons[:20])))
    unexplained = [c for c in ran if any(ch.required and ch.bad and not ch.blame for ch in c.checks)]
    bundle_reasons: list[str] = []
    bundle: Verdict
    if any(c.verdict == "failed" for c in comps) or unexplained:
        bundle = "failed"
        bundle_reasons += [f"{c.name} failed" for c in comps if c.verdict == "failed"]
        bundle_reasons += [f"{c.id} failed with no component to blame" for c in unexplained]
    elif comps and all(c.verdict == "sealed" for c in comps) and all(c.status == "passed" for c in ran):
        bundle = "sealed"
    elif primary is not None and primary.status == "passed":
        bundle = "provisional"
        if not wanted_dbs <= tested_dbs:
            bundle_reasons.append(f"not tested on {', '.join(sorted(wanted_dbs - tested_dbs))}")
    else:
        bundle = "untested"
        bundle_reasons.append("the primary cell did not pass" if primary else "the primary cell did not run")
    cell_json = {c.id: {"status": c.status, "core_line": c.core_line, "php": c.php, "db": c.db,
                        "mediawiki_version": c.mediawiki_version, "primary": c.primary,
                        "target": c.core_line == line} for c in cells}
    return Seal(bundle=str(lock["bundle"]), lock_sha256=str(lock["sha256"]), core_line=line,
                core_version=str(lock.get("core_version", "")), databases=tuple(sorted(wanted_dbs)),
                verdict=bundle, reasons=tuple(bundle_reasons), components=tuple(comps), cells=cell_json,
                results_digests=digests, generated_by=generated_by, lock_name=lock_name)


def verdict_counts(seals: Iterable[Seal]) -> dict[str, dict[str, int]]:
    return {s.bundle: s.counts() for s in seals}
