"""A test session, what `mwrelease test` does below the CLI: load (or resolve) the lock, plan the cells,
prepare the images, run the cells, gather the results and the exit code.

    session = plan_session(target, cores=["1.43"], catalog_for=open_catalog)
    outcome = run_session(session, Engine.connect(), jobs=2, options=CellOptions())

The CLI parses options, calls these and renders ``outcome``; progress goes through callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mwrelease.errors import ChecksFailed, ConfigError
from mwrelease.lock import Lock
from mwrelease.runner.cell import CellOptions, prepare_images, run_cells
from mwrelease.runner.engine import Engine
from mwrelease.runner.plan import Cell, parse_core, plan
from mwrelease.runner.results import CellResult, Results, lock_summary, now_iso

if TYPE_CHECKING:
    from mwrelease.bundle import Bundle
    from mwrelease.catalog import Catalog


@dataclass(frozen=True, kw_only=True)
class Session:
    """The planned cells of one lock."""

    lock: Lock
    cells: tuple[Cell, ...]

    @property
    def runnable(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.runnable)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a session's run gives: every cell's result and the results document."""

    results: Results

    @property
    def cells(self) -> tuple[CellResult, ...]:
        return self.results.cells

    @property
    def failed(self) -> tuple[CellResult, ...]:
        return tuple(c for c in self.cells if c.status in ("failed", "error"))

    @property
    def exit_code(self) -> int:
        """ChecksFailed's exit code when a cell failed or broke, else 0."""
        return ChecksFailed.exit_code if self.failed else 0

    def counts(self) -> dict[str, int]:
        n = {s: sum(1 for r in self.cells if r.status == s) for s in ("passed", "failed", "error")}
        n["skipped"] = sum(1 for r in self.cells if r.skipped)
        return n


def load_target(target: Path, cores: Sequence[str], catalog_for: Callable[[Bundle], Catalog]) -> Lock:
    """A lock file as is; a bundle YAML resolved for the first core (its catalog from ``catalog_for``)."""
    if target.suffix in (".yaml", ".yml"):
        from mwrelease.bundle import load_bundle
        from mwrelease.resolver import Target, resolve

        spec = load_bundle(target)
        if not cores:
            raise ConfigError(f"{target} is a bundle: give --core VERSION to resolve it for, or test a lock.",
                              hint="mwrelease resolve BUNDLE --core VERSION -o NAME.lock")
        _, version = parse_core(cores[0])
        return resolve(spec, catalog_for(spec), Target(core=version, php=spec.php)).lock
    return Lock.load(target)


def plan_session(target: Path, *, cores: Sequence[str] = (), php: Sequence[str] = (),
                 dbs: Sequence[str] = (), isolate: bool = False,
                 catalog_for: Callable[[Bundle], Catalog]) -> Session:
    lock = load_target(target, cores, catalog_for)
    cells = plan(lock, cores=cores, php=php, dbs=list(dbs) or ["sqlite"], isolate=isolate)
    return Session(lock=lock, cells=tuple(cells))


def run_session(session: Session, engine: Engine, *, jobs: int = 1, options: CellOptions = CellOptions(),
                generated_by: str = "", on_prepare: Callable[[int], None] | None = None,
                on_build_line: Callable[[str], None] | None = None, on_run: Callable[[int], None] | None = None,
                on_cell: Callable[[CellResult], None] | None = None) -> Outcome:
    """Build the images the runnable cells need (``on_prepare(count)`` first, the builds' output to
    ``on_build_line``), then run the cells (``on_run(count)`` first, ``on_cell`` as each one finishes)."""
    cells = list(session.cells)
    started = now_iso()
    if session.runnable:
        if on_prepare:
            on_prepare(len(session.runnable))
        prepare_images(cells, engine, on_line=on_build_line or (lambda line: None))
        if on_run:
            on_run(len(session.runnable))
    results = run_cells(cells, engine, jobs=jobs, options=options, on_cell=on_cell)
    res = Results(cells=tuple(results), locks=(lock_summary(cells[0]),), started=started, finished=now_iso(),
                  generated_by=generated_by)
    return Outcome(results=res)
