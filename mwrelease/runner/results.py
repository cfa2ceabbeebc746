"""Results of a test run: named checks per cell, as JSON (``mwrelease.results/1``) and JUnit XML.

Results JSON::

    {"format": "mwrelease.results/1", "generated_by": "mwrelease 0.1.0",
     "started": "2026-11-22T02:00:00Z", "finished": "…",
     "locks": [{"bundle": "tarball-1.43", "sha256": "…", "core_version": "1.43.9", "core_line": "1.43",
                "databases": ["sqlite", …], "components": [{"name", "kind", "ref", "commit", "version", "source"}]}],
     "cells": [{"id": "tarball-1.43@1.43-php8.4-sqlite", "bundle": "…", "lock_sha256": "…",
                "core_line": "1.43", "core": "1.43.9", "php": "8.4", "db": "sqlite", "primary": true,
                "status": "passed" | "failed" | "error" | "skipped-incompatible" | "skipped-unavailable",
                "reasons": [{"code", "message"}],            # why a cell was skipped
                "components": ["Cite", …],                   # loaded here (isolated cells "…[Cite]": a subset)
                "image": "mwrelease/core:1.43-debian-…", "mediawiki_version": "1.43.5", "php_version": "8.4.24",
                "duration": 81.2, "timings": {"container": 0.4, "install": 9.1, "update": 30.2, "checks": 20.0},
                "warm": true,                                # reused an installed-database snapshot
                "checks": [{"name": "smoke:Cite:footnote", "status": "passed" | "failed" | "skipped" | "error",
                            "duration": 0.31, "message": "…", "log": "…excerpt…", "required": true,
                            "component": "Cite" | null,       # the extension the check is about
                            "blame": ["Cite"]}]}]}            # extensions a failure's log points at

A check is ``failed`` when what it tested is wrong, ``error`` when it could not be run (the engine
broke), ``skipped`` when an earlier step failed. A cell is ``failed`` when a required check failed or
errored. ``digest()`` of a results file is the sha256 of its canonical JSON: what a seal names.
"""

from __future__ import annotations

import hashlib
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mwrelease.errors import ConfigError
from mwrelease.fsutil import write_atomic
from mwrelease.jsonfile import canonical_json, read_json
from mwrelease.runner.plan import Cell

RESULTS_FORMAT = "mwrelease.results/1"
CheckStatus = Literal["passed", "failed", "skipped", "error"]
CellOutcome = Literal["passed", "failed", "error", "skipped-incompatible", "skipped-unavailable"]
LOG_EXCERPT_CHARS = 4000


def excerpt(text: str, limit: int = LOG_EXCERPT_CHARS) -> str:
    """The end of a log, where the error usually is, trimmed to ``limit`` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1):]


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    status: CheckStatus
    duration: float = 0.0
    message: str = ""
    log: str = ""
    required: bool = True
    component: str | None = None
    blame: tuple[str, ...] = ()

    @property
    def bad(self) -> bool:
        return self.status in ("failed", "error")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "duration": round(self.duration, 3),
                "message": self.message, "log": self.log, "required": self.required,
                "component": self.component, "blame": list(self.blame)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CheckResult:
        return cls(name=d["name"], status=d["status"], duration=float(d.get("duration", 0)),
                   message=d.get("message", ""), log=d.get("log", ""), required=bool(d.get("required", True)),
                   component=d.get("component"), blame=tuple(d.get("blame", ())))


@dataclass(frozen=True, kw_only=True)
class CellResult:
    id: str
    bundle: str
    lock_digest: str
    core_line: str
    core: str
    php: str
    db: str
    primary: bool = False
    status: CellOutcome = "passed"
    reasons: tuple[dict[str, str], ...] = ()
    checks: tuple[CheckResult, ...] = ()
    image: str | None = None
    mediawiki_version: str | None = None
    php_version: str | None = None
    duration: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    warm: bool = False
    components: tuple[str, ...] = ()  # the components the cell loaded (a subset in isolated cells)

    @classmethod
    def for_cell(cls, cell: Cell, checks: Sequence[CheckResult] = (), **kw: Any) -> CellResult:
        base = cls(id=cell.id, bundle=cell.bundle, lock_digest=cell.lock_digest, core_line=cell.core_line,
                   core=cell.core, php=cell.php, db=cell.db, primary=cell.primary,
                   reasons=tuple(r.to_json() for r in cell.reasons), checks=tuple(checks),
                   components=cell.components, **kw)
        if cell.status != "planned":
            return replace(base, status=cell.status)
        return replace(base, status=outcome(checks))

    @property
    def skipped(self) -> bool:
        return self.status.startswith("skipped")

    @property
    def failed_required(self) -> list[CheckResult]:
        return [c for c in self.checks if c.required and c.bad]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "bundle": self.bundle, "lock_sha256": self.lock_digest, "core_line": self.core_line,
                "core": self.core, "php": self.php, "db": self.db, "primary": self.primary, "status": self.status,
                "reasons": [dict(r) for r in self.reasons], "image": self.image,
                "mediawiki_version": self.mediawiki_version, "php_version": self.php_version,
                "duration": round(self.duration, 2), "timings": {k: round(v, 2) for k, v in self.timings.items()},
                "warm": self.warm, "components": list(self.components),
                "checks": [c.to_json() for c in self.checks]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CellResult:
        return cls(id=d["id"], bundle=d["bundle"], lock_digest=d["lock_sha256"], core_line=d["core_line"],
                   core=d.get("core", d["core_line"]), php=d.get("php", ""), db=d["db"],
                   primary=bool(d.get("primary")), status=d["status"],
                   reasons=tuple(d.get("reasons", ())), checks=tuple(CheckResult.from_json(c) for c in d.get("checks", ())),
                   image=d.get("image"), mediawiki_version=d.get("mediawiki_version"), php_version=d.get("php_version"),
                   duration=float(d.get("duration", 0)), timings=dict(d.get("timings", {})), warm=bool(d.get("warm")),
                   components=tuple(d.get("components", ())))


def outcome(checks: Iterable[CheckResult]) -> CellOutcome:
    checks = list(checks)
    if any(c.required and c.status == "failed" for c in checks):
        return "failed"
    if any(c.required and c.status == "error" for c in checks):
        return "error"
    return "passed"


@dataclass(frozen=True, kw_only=True)
class Results:
    cells: tuple[CellResult, ...]
    locks: tuple[dict[str, Any], ...] = ()
    started: str = ""
    finished: str = ""
    generated_by: str = ""
    # A fanned-out run (``--cell``): the sha256 of the whole plan and every cell id it has, so that
    # ``mwrelease results merge`` can refuse shards of different plans and name missing cells.
    plan_sha256: str = ""
    planned: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(c.status in ("failed", "error") for c in self.cells)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": RESULTS_FORMAT, "generated_by": self.generated_by, "started": self.started,
            "finished": self.finished, "locks": [dict(lk) for lk in self.locks],
            "cells": [c.to_json() for c in self.cells]}
        if self.plan_sha256:
            out["plan"] = {"sha256": self.plan_sha256, "cells": list(self.planned)}
        return out

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    def dump(self, path: Path) -> None:
        """Atomically: a reader (or a run killed mid-write) never sees half a file."""
        write_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "results") -> Results:
        if data.get("format") != RESULTS_FORMAT:
            raise ConfigError(f"{origin} is not an mwrelease results file (format {data.get('format')!r}, "
                              f"expected {RESULTS_FORMAT!r}).", hint="Make one with `mwrelease test ... --results FILE`.")
        try:
            return cls(cells=tuple(CellResult.from_json(c) for c in data["cells"]),
                       locks=tuple(data.get("locks", ())), started=data.get("started", ""),
                       finished=data.get("finished", ""), generated_by=data.get("generated_by", ""),
                       plan_sha256=str((data.get("plan") or {}).get("sha256", "")),
                       planned=tuple((data.get("plan") or {}).get("cells", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin} is a damaged results file: missing or wrong field {exc}.") from None

    @classmethod
    def load(cls, path: Path) -> Results:
        data = read_json(path, what="Results file", hint="Make one with `mwrelease test ... --results FILE`.")
        return cls.from_json(data, origin=str(path))


def lock_summary(cell: Cell) -> dict[str, Any]:
    lock = cell.lock
    return {"bundle": lock.bundle, "sha256": cell.lock_digest, "core_version": lock.core_version,
            "core_line": lock.core_line, "databases": list(lock.databases),
            "components": [{"name": c.name, "kind": c.kind, "ref": c.ref, "commit": c.commit, "version": c.version,
                            "source": c.source.type, "requires": c.requires} for c in lock.components]}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def merge(results: Iterable[Results]) -> Results:
    """Several results files (CI fans cells out to many runners) as one; a later cell id wins."""
    cells: dict[str, CellResult] = {}
    locks: dict[str, dict[str, Any]] = {}
    all_results = list(results)
    for r in all_results:
        for lk in r.locks:
            locks[lk["sha256"]] = lk
        for c in r.cells:
            cells[c.id] = c
    starts = [r.started for r in all_results if r.started]
    ends = [r.finished for r in all_results if r.finished]
    return Results(cells=tuple(cells.values()), locks=tuple(locks.values()), started=min(starts, default=""),
                   finished=max(ends, default=""),
                   generated_by=next((r.generated_by for r in all_results if r.generated_by), ""))


# --- JUnit XML ----------------------------------------------------------------------------------
# The de-facto schema that Jenkins, GitLab and GitHub reporters read: <testsuites> of <testsuite name
# tests failures errors skipped time>, <testcase classname name time> with <failure message>, <error>
# or <skipped>, and <system-out>. One suite per cell, one testcase per check.

def junit_xml(results: Results) -> str:
    root = ET.Element("testsuites", name="mwrelease")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for cell in results.cells:
        suite = ET.SubElement(root, "testsuite", name=cell.id, timestamp=results.started or now_iso(),
                              hostname="mwrelease")
        props = ET.SubElement(suite, "properties")
        for k, v in (("bundle", cell.bundle), ("lock_sha256", cell.lock_digest), ("core", cell.core),
                     ("mediawiki_version", cell.mediawiki_version or ""), ("php", cell.php),
                     ("php_version", cell.php_version or ""), ("db", cell.db), ("image", cell.image or ""),
                     ("status", cell.status)):
            ET.SubElement(props, "property", name=k, value=v)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        checks = list(cell.checks)
        if cell.skipped:
            reason = "; ".join(r.get("message", "") for r in cell.reasons) or cell.status
            tc = ET.SubElement(suite, "testcase", classname=cell.id, name="cell", time="0")
            ET.SubElement(tc, "skipped", message=f"{cell.status}: {reason}")
            counts["tests"] += 1
            counts["skipped"] += 1
        for chk in checks:
            tc = ET.SubElement(suite, "testcase", classname=cell.id, name=chk.name, time=f"{chk.duration:.3f}")
            counts["tests"] += 1
            if chk.status == "failed":
                el = ET.SubElement(tc, "failure" if chk.required else "skipped", message=_clean(chk.message))
                el.text = _clean(chk.log)
                counts["failures" if chk.required else "skipped"] += 1
            elif chk.status == "error":
                el = ET.SubElement(tc, "error" if chk.required else "skipped", message=_clean(chk.message))
                el.text = _clean(chk.log)
                counts["errors" if chk.required else "skipped"] += 1
            elif chk.status == "skipped":
                ET.SubElement(tc, "skipped", message=_clean(chk.message))
                counts["skipped"] += 1
            elif chk.log:
                out = ET.SubElement(tc, "system-out")
                out.text = _clean(chk.log)
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", f"{cell.duration:.3f}")
        total_time += cell.duration
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean(text: str) -> str:
    # XML 1.0 forbids most control characters; PHP and ANSI-coloured logs contain them.
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else f"\\x{ord(ch):02x}" for ch in text)
