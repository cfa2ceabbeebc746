"""What the compatibility site shows, as values: per extension a state per ref and core line (built by
``plan_site`` in site.py, rendered by site_render.py). Pure: no I/O.

States, one CSS class each (``st-…``), so a tested failure never looks like "declared incompatible":

- tested: ``tested-passed``, ``tested-failed``, ``tested-inconclusive`` (another component's failure hid
  it, or the cell broke before its checks), ``tested-skipped`` (the cell was skipped);
- declared (no conclusive test): ``declared-compatible``, ``declared-incompatible`` (with MediaWiki's
  reason codes), ``declared-unknown`` (no ``requires``, or no extension.json at all).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mwrelease.compat import Reason

State = Literal["tested-passed", "tested-failed", "tested-inconclusive", "tested-skipped",
                "declared-compatible", "declared-incompatible", "declared-unknown"]
STATES: tuple[State, ...] = ("tested-passed", "tested-failed", "tested-inconclusive", "tested-skipped",
                             "declared-compatible", "declared-incompatible", "declared-unknown")
STATE_LABEL: Mapping[State, str] = {
    "tested-passed": "passed (tested)", "tested-failed": "failed (tested)",
    "tested-inconclusive": "inconclusive (tested)", "tested-skipped": "skipped (not run)",
    "declared-compatible": "compatible (declared)", "declared-incompatible": "incompatible (declared)",
    "declared-unknown": "unknown (declares nothing)"}
STATE_HELP: Mapping[State, str] = {
    "tested-passed": "a container test of this ref on this core passed",
    "tested-failed": "a container test failed and the log points at this extension",
    "tested-inconclusive": "tested, but another component's failure hid it, or the cell broke before its checks",
    "tested-skipped": "a test cell was planned but skipped (incompatible or unavailable)",
    "declared-compatible": "not tested; extension.json requires admit this core",
    "declared-incompatible": "not tested; extension.json requires exclude this core (reasons shown)",
    "declared-unknown": "not tested; the ref declares no requirements (or has no extension.json)"}
_TESTED_RANK = {"skipped": 0, "inconclusive": 1, "passed": 2, "failed": 3}


@dataclass(frozen=True, kw_only=True)
class Failure:
    check: str
    message: str
    log: str
    blame: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TestedCell:
    """One component in one cell of a results file."""

    cell_id: str
    bundle: str
    core_line: str
    mediawiki_version: str
    php: str
    db: str
    primary: bool
    status: Literal["passed", "failed", "inconclusive", "skipped"]
    why: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()

    @property
    def state(self) -> State:
        return f"tested-{self.status}"  # type: ignore[return-value]

    @property
    def column(self) -> tuple[str, str]:
        return (self.php, self.db)

    @property
    def anchor(self) -> str:
        return "c-" + hashlib.sha256(self.cell_id.encode()).hexdigest()[:10]


@dataclass(frozen=True, kw_only=True)
class RefOnLine:
    """One ref of an extension on one core line: declared, tested, and the state to show."""

    ref: str
    line: str
    core: str
    declared: Literal["compatible", "incompatible", "unknown"]
    reasons: tuple[Reason, ...] = ()
    tested: tuple[TestedCell, ...] = ()

    @property
    def tested_status(self) -> str | None:
        """The worst conclusive tested status over the cells (None: no cell ran it)."""
        ran = [t.status for t in self.tested]
        if not ran:
            return None
        return max(ran, key=lambda s: _TESTED_RANK[s])

    @property
    def state(self) -> State:
        t = self.tested_status
        if t is not None and t != "skipped":
            return f"tested-{t}"  # type: ignore[return-value]
        if t == "skipped" and self.declared == "compatible":
            return "tested-skipped"
        return f"declared-{self.declared}"  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class SealBadge:
    bundle: str
    line: str
    verdict: str
    ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExtensionSummary:
    name: str
    kind: str
    slug: str
    refs: tuple[str, ...]                      # newest first
    grid: Mapping[tuple[str, str], RefOnLine]  # (ref, line) -> state
    recommended: Mapping[str, str | None]      # line -> ref
    tested_up_to: str | None
    seals: tuple[SealBadge, ...] = ()
    repo: str | None = None

    def cell(self, ref: str, line: str) -> RefOnLine | None:
        return self.grid.get((ref, line))

    def index_state(self, line: str) -> State | None:
        """What the index shows for a line: the recommended ref's state, else the worst news."""
        rec = self.recommended.get(line)
        if rec is not None:
            return self.grid[(rec, line)].state
        states = {self.grid[(r, line)].state for r in self.refs if (r, line) in self.grid}
        for s in ("tested-failed", "tested-inconclusive", "declared-incompatible", "declared-unknown", "tested-skipped"):
            if s in states:
                return s
        return None

    def columns(self, lines: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """line -> (PHP, database) pairs tested on it, SQLite first."""
        cols: dict[str, set[tuple[str, str]]] = {line: set() for line in lines}
        for (_ref, line), cell in self.grid.items():
            cols.setdefault(line, set()).update(t.column for t in cell.tested)
        return {line: sorted(c, key=lambda c: (c[0], c[1] != "sqlite", c[1])) for line, c in cols.items()}

    def matrix(self, lines: Sequence[str]) -> list[tuple[str, list[tuple[RefOnLine | None, list[tuple[str, list[TestedCell]] | None]]]]]:
        """The page's table in one pass: per ref, per line, (declared cell, per tested column
        (state class, tested cells) or None when that column did not test this ref)."""
        columns = self.columns(lines)
        rank = {"skipped": 0, "passed": 1, "inconclusive": 2, "failed": 3}
        out = []
        for ref in self.refs:
            per_line = []
            for line in lines:
                cell = self.grid.get((ref, line))
                by_col: dict[tuple[str, str], list[TestedCell]] = {}
                for t in cell.tested if cell else ():
                    by_col.setdefault(t.column, []).append(t)
                tested: list[tuple[str, list[TestedCell]] | None] = []
                for col in columns[line]:
                    ts = by_col.get(col)
                    # several cells in one column (isolated and together): the worst one colours it
                    tested.append(("tested-" + max((t.status for t in ts), key=lambda st: rank[st]), ts) if ts else None)
                per_line.append((cell, tested))
            out.append((ref, per_line))
        return out

    def failures(self) -> list[tuple[str, TestedCell]]:
        """(ref, cell) for every tested cell that failed or was inconclusive, for the logs section."""
        order = {ref: i for i, ref in enumerate(self.refs)}
        out = [(ref, t) for (ref, _line), cell in self.grid.items() for t in cell.tested
               if t.status in ("failed", "inconclusive")]
        return sorted(out, key=lambda rt: order.get(rt[0], 0))


@dataclass(frozen=True, kw_only=True)
class InputFile:
    path: str
    digest: str
    what: str  # "results" | "seal"
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Site:
    lines: tuple[str, ...]                 # "1.39", "1.43", ... ascending
    cores: Mapping[str, str]               # line -> core version the declared state was computed for
    php: tuple[str, ...]
    extensions: tuple[ExtensionSummary, ...]
    inputs: tuple[InputFile, ...] = ()
    seals: tuple[SealBadge, ...] = ()
    generated_by: str = ""
    generated_at: str = ""
    catalog_sources: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
