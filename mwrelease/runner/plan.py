"""The test plan: which cells (core line x PHP x database x lock) to run. Pure: no engine, no I/O.

    cells = plan(lock, cores=["1.39", "1.43"], php=[], dbs=["sqlite", "mariadb"])

A cell is *planned* when every component's declared ``requires`` admits the cell's core and PHP,
*skipped-incompatible* when the declared matrix rules it out (the reasons say which extension and
why, in MediaWiki's own error codes, see ``mwrelease.compat``), and *skipped-unavailable* when no core
image offers the requested PHP for that line (Debian's packages fix one PHP per line).

A cell's core is a line (``1.43``) or an exact version (``1.43.9``); the image decides the exact
version that really runs, and the results record it. The *primary* cell of a lock is its own core
line, the line's PHP, on SQLite: the seal's ``provisional`` verdict needs it to pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mwrelease.compat import Reason, platform_reasons
from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent
from mwrelease.runner.suites import LINE_PHP

Db = Literal["sqlite", "mariadb", "postgres"]
DATABASES: tuple[Db, ...] = ("sqlite", "mariadb", "postgres")
CellStatus = Literal["planned", "skipped-incompatible", "skipped-unavailable"]



@dataclass(frozen=True, kw_only=True)
class Cell:
    id: str
    bundle: str
    core_line: str
    core: str                 # what declared constraints are checked against: "1.43.9" or "1.43.0"
    php: str
    db: Db
    lock_digest: str          # sha256 of the canonical lock JSON (see lock_digest)
    components: tuple[str, ...]
    status: CellStatus = "planned"
    reasons: tuple[Reason, ...] = ()
    primary: bool = False
    only: tuple[str, ...] = ()  # an isolated cell: load just these (a component and what it requires)
    lock: Lock = field(compare=False, repr=False)

    @property
    def runnable(self) -> bool:
        return self.status == "planned"

    @property
    def loaded(self) -> tuple[LockedComponent, ...]:
        """The lock's components this cell puts in place and loads."""
        return tuple(c for c in self.lock.components if c.load and (not self.only or c.name in self.only))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "bundle": self.bundle, "core_line": self.core_line, "core": self.core,
                "php": self.php, "db": self.db, "lock_sha256": self.lock_digest,
                "components": list(self.components), "status": self.status,
                "reasons": [r.to_json() for r in self.reasons], "primary": self.primary, "only": list(self.only)}


def lock_digest(lock: Lock) -> str:
    """sha256 of the lock's canonical JSON (sorted keys, no whitespace): the same for the same lock
    whether it was read from a file or resolved in memory, and independent of indentation."""
    return hashlib.sha256(canonical_json(lock.to_json())).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_core(spec: str) -> tuple[str, str]:
    """``"1.43"`` -> (line, "1.43.0"); ``"1.43.9"`` -> ("1.43", "1.43.9")."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", spec.strip())
    if not m:
        raise ConfigError(f"{spec!r} is not a MediaWiki core line or version.",
                          hint="Give --core as a line (1.43) or an exact version (1.43.9).")
    line = f"{m.group(1)}.{m.group(2)}"
    return line, f"{line}.{m.group(3) or 0}"


def component_reasons(comp: LockedComponent, *, core: str, php: str) -> list[Reason]:
    """What the component's declared requires say about this core and PHP (empty: it fits)."""
    from mwrelease.catalog import Candidate, Requires

    cand = Candidate(name=comp.name, kind=comp.kind, ref=comp.ref, ref_type=comp.ref_type, commit=comp.commit,
                     version=comp.version, requires=Requires.from_manifest(comp.requires) if comp.requires
                     else Requires(), origin=comp.catalog)
    return platform_reasons(cand, core=core, php=[php])


def closure(lock: Lock, name: str) -> tuple[str, ...]:
    """``name`` and every component of the lock it requires (requires.extensions/skins), recursively."""
    names = {c.name for c in lock.components}
    out: list[str] = []
    todo = [name]
    while todo:
        n = todo.pop()
        if n in out or n not in names:
            continue
        out.append(n)
        req = lock.component(n).requires
        for key in ("extensions", "skins"):
            todo.extend(str(k) for k in (req.get(key) or {}))
    return tuple(c.name for c in lock.components if c.name in out)


def plan(lock_or_locks: Lock | Iterable[Lock], *, cores: Sequence[str] = (), php: Sequence[str] = (),
         dbs: Sequence[str] = ("sqlite",), isolate: bool = False) -> list[Cell]:
    """Cells for every lock x core x PHP x database, in a stable order (lock, core, PHP, database).

    ``cores`` empty: each lock's own core version. ``php`` empty: the PHP of each line's image.
    ``isolate``: instead of one cell with the whole lock, one cell per component, loading only it and
    what it requires, so that one broken component cannot hide how the others behave (ids end in
    ``[NAME]``); declared compatibility is then judged per isolated set.
    """
    locks = [lock_or_locks] if isinstance(lock_or_locks, Lock) else list(lock_or_locks)
    if not locks:
        raise ConfigError("Nothing to plan: no lock given.")
    bad = [d for d in dbs if d not in DATABASES]
    if bad:
        raise ConfigError(f"Unknown database {', '.join(map(repr, bad))}.",
                          hint=f"Choose from: {', '.join(DATABASES)}.")
    if not dbs:
        raise ConfigError("No database to test on.", hint="Give --db sqlite (the default), mariadb or postgres.")
    cells: list[Cell] = []
    seen: set[str] = set()
    for lock in locks:
        digest = lock_digest(lock)
        names = tuple(c.name for c in lock.components)
        targets = [parse_core(c) for c in cores] if cores else [(lock.core_line, lock.core_version)]
        for line, core in targets:
            if line == lock.core_line and core.endswith(".0") and not _has_patch(cores, line):
                core = lock.core_version  # a bare line means the lock's own exact version
            image_php = LINE_PHP.get(line)
            for p in (php or ([image_php] if image_php else ["?"])):
                for db in dbs:
                    cell_id = f"{lock.bundle}@{line}-php{p}-{db}"
                    if len(locks) > 1:
                        cell_id = f"{lock.bundle}.{digest[:8]}@{line}-php{p}-{db}"
                    groups = [(f"{cell_id}[{c.name}]", closure(lock, c.name)) for c in lock.components
                              if c.load] if isolate else [(cell_id, ())]
                    for gid, only in groups:
                        if gid in seen:
                            continue
                        seen.add(gid)
                        status: CellStatus = "planned"
                        reasons: list[Reason] = []
                        if image_php is None or p != image_php:
                            status = "skipped-unavailable"
                            offer = f"PHP {image_php}" if image_php else "no image at all"
                            reasons.append(Reason(code="no-image", message=(
                                f"no core image runs MediaWiki {line} with PHP {p} (the {line} image offers {offer}; "
                                f"lines with images: {', '.join(sorted(LINE_PHP))})")))
                        else:
                            for comp in lock.components:
                                if not only or comp.name in only:
                                    reasons.extend(component_reasons(comp, core=core, php=p))
                            if reasons:
                                status = "skipped-incompatible"
                        cells.append(Cell(id=gid, bundle=lock.bundle, core_line=line, core=core, php=p,
                                          db=db,  # type: ignore[arg-type]
                                          lock_digest=digest, components=only or names, status=status,
                                          reasons=tuple(reasons), only=only,
                                          primary=(line == lock.core_line and p == image_php and db == "sqlite"
                                                   and not only),
                                          lock=lock))
    return cells


def _has_patch(cores: Sequence[str], line: str) -> bool:
    return any(c.strip().startswith(line + ".") and c.strip().count(".") == 2 for c in cores)
