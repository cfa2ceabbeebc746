"""What `mwrelease ci` tells the CI: a Markdown summary, annotations at the extension's own file and
line (GitHub workflow commands, a GitLab code-quality report) and a badge. Pure: results in, text out.

The PHP log of a failed check names files inside the container (``/…/extensions/NAME/includes/X.php``
``on line 12`` or ``X.php(12)``); only paths inside the checkout's own tree become annotations, as
paths relative to the repository. A failure that names no file of the checkout is annotated at its
manifest (extension.json), line 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mwrelease.runner.results import CellResult, CheckResult, Results


@dataclass(frozen=True, kw_only=True)
class Annotation:
    file: str
    line: int
    title: str
    message: str
    cell: str

    def github(self) -> str:
        # Workflow commands: % \r \n escaped in the data, and also , : in properties.
        def data(s: str) -> str:
            return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

        def prop(s: str) -> str:
            return data(s).replace(":", "%3A").replace(",", "%2C")

        return f"::error file={prop(self.file)},line={self.line},title={prop(self.title)}::{data(self.message)}"

    def gitlab(self) -> dict[str, object]:
        fingerprint = hashlib.sha256(f"{self.cell}|{self.title}|{self.file}".encode()).hexdigest()
        return {"description": f"{self.title}: {self.message}", "check_name": self.title,
                "fingerprint": fingerprint, "severity": "major",
                "location": {"path": self.file, "lines": {"begin": self.line}}}


def location(log: str, name: str, kind: str = "extension") -> tuple[str, int] | None:
    """The first file:line of the ``name`` tree the log names, relative to that tree."""
    top = "skins" if kind == "skin" else "extensions(?:-core)?"
    pat = re.compile(rf"/(?:{top})/{re.escape(name)}/([^\s:()'\"]+?)(?:\((\d+)\)| on line (\d+)|:(\d+))")
    m = pat.search(log)
    if not m:
        return None
    return m.group(1), int(next(g for g in m.groups()[1:] if g))


def annotate(results: Results, name: str, *, kind: str = "extension", manifest: str = "extension.json"
                ) -> list[Annotation]:
    out: list[Annotation] = []
    seen: set[tuple[str, int, str]] = set()
    for cell in results.cells:
        for chk in cell.failed_required:
            if chk.blame and name not in chk.blame:
                continue  # another component's failure: not this repository's line to point at
            loc = location(chk.log, name, kind) or location(chk.message, name, kind) or (manifest, 1)
            key = (loc[0], loc[1], chk.name)
            if key in seen:
                continue
            seen.add(key)
            out.append(Annotation(file=loc[0], line=loc[1], title=f"{chk.name} ({cell.id})",
                                  message=_first_line(chk), cell=cell.id))
    return out


def _first_line(chk: CheckResult) -> str:
    text = chk.message or chk.log
    return text.strip().splitlines()[0][:500] if text.strip() else chk.status


ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped-incompatible": "⏭️", "skipped-unavailable": "⏭️"}


def markdown(results: Results, name: str, skipped_lines: dict[str, str]) -> str:
    rows = ["| cell | MediaWiki | PHP | database | status | failed checks |", "|---|---|---|---|---|---|"]
    for c in results.cells:
        bad = ", ".join(f"`{k.name}`" for k in c.failed_required[:5]) + (" …" if len(c.failed_required) > 5 else "")
        if c.skipped:
            bad = "; ".join(r.get("message", "") for r in c.reasons)[:300]
        rows.append(f"| `{c.id}` | {c.mediawiki_version or c.core} | {c.php_version or c.php} | {c.db} | "
                    f"{ICONS.get(c.status, '')} {c.status} | {_md(bad)} |")
    out = [f"## mwrelease ci: {name}", "", overall(results.cells) + ".", "", *rows]
    if skipped_lines:
        out += ["", "Lines not tested:", *[f"- MediaWiki {line}: {_md(why)}" for line, why in skipped_lines.items()]]
    for c in results.cells:
        for k in c.failed_required[:3]:
            out += ["", f"<details><summary>{_md(c.id)}: {_md(k.name)}</summary>", "", "```",
                    (k.log or k.message)[-1500:].replace("```", "'''"), "```", "</details>"]
    return "\n".join(out) + "\n"


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def overall(cells: Sequence[CellResult]) -> str:
    ran = [c for c in cells if not c.skipped]
    if not ran:
        return "untested"
    bad = [c for c in ran if c.status in ("failed", "error")]
    return f"failed on {len(bad)} of {len(ran)} cells" if bad else f"passed on {len(ran)} cells"


def badge(cells: Sequence[CellResult], *, needs_composer: bool = False) -> str:
    from mwrelease.report.badges import badge_svg

    ran = [c for c in cells if not c.skipped]
    lines = sorted({c.core_line for c in ran if c.status == "passed"}, key=lambda s: tuple(map(int, s.split("."))))
    if not ran:
        return badge_svg("MediaWiki", "needs-composer" if needs_composer else "untested")
    if any(c.status in ("failed", "error") for c in ran):
        return badge_svg("MediaWiki", "failing", "#e05d44")
    return badge_svg("MediaWiki", " | ".join(lines), "#4c1")


def codequality(notes: Sequence[Annotation]) -> str:
    return json.dumps([n.gitlab() for n in notes], indent=2) + "\n"
