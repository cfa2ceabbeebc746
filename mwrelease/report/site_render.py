"""Render a ``Site`` (see ``report.site``) to static files with the Jinja2 templates in ``templates/site``.

Autoescaping is on for every template: names, refs, reasons and logs come from extension repositories
and test logs, i.e. from strangers. Only the badges are inserted as markup, and ``badge_svg`` escapes
its own text.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mwrelease.report.badges import badge_svg
from mwrelease.report.site_model import STATE_HELP, STATE_LABEL, STATES, ExtensionSummary, Site
from mwrelease.versions import parse_version

SYMBOL = {"tested-passed": "✓", "tested-failed": "✗", "tested-inconclusive": "?", "tested-skipped": "–",
          "declared-compatible": "○", "declared-incompatible": "⊘", "declared-unknown": "·"}
REC_BIT = 16  # in an index cell's mask: a ref is recommended on this line (bits 0-6: STATES)
REC_BIT_VALUE = 1 << REC_BIT
VERDICT_COLOUR = {"tested-passed": "#2a7d2e", "tested-failed": "#c81e1e", "tested-inconclusive": "#e07b00"}


def environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("mwrelease.report", "templates/site"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    # Compact JSON for the index data (the tojson filter escapes <, >, & and ' for HTML either way).
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    env.globals.update(STATES=STATES, STATE_LABEL=STATE_LABEL, STATE_HELP=STATE_HELP, SYMBOL=SYMBOL)
    env.filters["urlpart"] = lambda s: quote(str(s), safe="")
    return env


class _Badges:
    """Inline badges of one page, each with its own SVG ids (two badges must not clip each other)."""

    def __init__(self, page: str) -> None:
        self.page = page
        self.n = 0

    def __call__(self, label: str, message: str, colour: str | None = None) -> Any:
        from markupsafe import Markup

        self.n += 1
        return Markup(badge_svg(label, message, colour, uid=f"{self.page}#{self.n}"))


def extension_badge(e: ExtensionSummary) -> tuple[str, str, str]:
    """(label, message, colour) of an extension's badge: the newest line a ref passed on, else the
    newest line where its tests failed, else "untested"."""
    if e.tested_up_to:
        return "MediaWiki", f"tested {e.tested_up_to}", "#4c1"
    failed = sorted({line for (_ref, line), c in e.grid.items() if c.state == "tested-failed"}, key=parse_version)
    if failed:
        return "MediaWiki", f"failed on {failed[-1]}", "#e05d44"
    return "MediaWiki", "untested", "#9f9f9f"


def index_rows(site: Site) -> list[dict[str, Any]]:
    """What each index row shows; also written as site.json."""
    out = []
    for e in site.extensions:
        lines = {}
        for line in site.lines:
            state = e.index_state(line)
            rec = e.recommended.get(line)
            lines[line] = {"ref": rec, "state": state}
        out.append({"name": e.name, "kind": e.kind, "page": f"ext/{e.slug}.html", "tested_up_to": e.tested_up_to,
                    "lines": lines})
    return out


def index_data(site: Site, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The index rows in the compact form static/site.js draws from (small, so the index opens fast):
    ``states`` names the state numbers; a row is [name, kind, page slug, tested up to, cells], a cell per
    line is [recommended ref, shown state number, mask], where bit i of mask says some ref is in state i
    on that line and bit ``REC_BIT`` that a ref is recommended there."""
    number = {s: i for i, s in enumerate(STATES)}
    out = []
    for e, r in zip(site.extensions, rows):
        cells = []
        for ln in site.lines:
            mask = REC_BIT_VALUE if e.recommended.get(ln) else 0
            for ref in e.refs:
                c = e.grid.get((ref, ln))
                if c is not None:
                    mask |= 1 << number[c.state]
            shown = r["lines"][ln]["state"]
            cells.append([r["lines"][ln]["ref"], number[shown] if shown else -1, mask])
        out.append([e.name, e.kind, e.slug, e.tested_up_to, cells])
    return {"lines": list(site.lines), "states": list(STATES), "symbols": [SYMBOL[s] for s in STATES],
            "labels": [STATE_LABEL[s] for s in STATES], "rec_bit": REC_BIT, "rows": out}


def write_site(site: Site, out: Path) -> list[Path]:
    """Write the pages; returns the files written. ``out`` is created; stale files in ``out/ext``,
    ``out/badges`` and ``out/static`` (an extension no longer in the catalog) are removed."""
    env = environment()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("ext", "badges", "static"):
        (out / sub).mkdir(exist_ok=True)
    written: list[Path] = []
    static = resources.files("mwrelease.report").joinpath("static")
    for name in ("site.css", "site.js"):
        p = out / "static" / name
        p.write_text(static.joinpath(name).read_text())
        written.append(p)
    rows = index_rows(site)
    common = {"site": site, "stamp": site}
    page = env.get_template("index.html.j2").render(
        **common, rows=rows, data=index_data(site, rows), root="", badge=_Badges("index"),
        title="MediaWiki extension compatibility")
    (out / "index.html").write_text(page)
    written.append(out / "index.html")
    (out / "site.json").write_text(json.dumps({
        "format": "mwrelease.site/1", "generated_by": site.generated_by, "generated_at": site.generated_at,
        "lines": list(site.lines), "cores": dict(site.cores),
        "inputs": [{"path": i.path, "what": i.what, "sha256": i.digest} for i in site.inputs],
        "extensions": rows}, indent=1) + "\n")
    written.append(out / "site.json")
    template = env.get_template("extension.html.j2")
    for e in site.extensions:
        p = out / "ext" / f"{e.slug}.html"
        p.write_text(template.render(**common, e=e, root="../", badge=_Badges(e.slug), extension_badge=extension_badge(e),
                                     title=f"{e.name} — compatibility"))
        written.append(p)
        b = out / "badges" / f"{e.slug}.svg"
        b.write_text(badge_svg(*extension_badge(e), uid=f"badge/{e.slug}"))
        written.append(b)
    for s in site.seals:
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s.bundle)
        b = out / "badges" / f"bundle-{slug}.svg"
        b.write_text(badge_svg(f"{s.bundle} on {s.line}", s.verdict, uid=f"bundle/{s.bundle}/{s.line}"))
        written.append(b)
    # Overwrite, then remove what was not written: cheaper than emptying the directories first
    # (unlinking is the slow part of a rebuild on some file systems).
    keep = set(written)
    for sub in ("ext", "badges", "static"):
        for old in (out / sub).iterdir():
            if old not in keep:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    return written
