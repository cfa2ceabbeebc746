"""The seal matrix page: one self-contained HTML file, extension x cell, declared vs tested, colour-coded."""

from __future__ import annotations

from html import escape
from typing import Any

from mwrelease.report.badges import COLOURS, badge_svg

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#202122}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.15em;margin:1.6em 0 .4em}
.meta{color:#54595d;font-size:.9em;margin-bottom:1em}
table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #c8ccd1;padding:.25em .5em;text-align:center;vertical-align:middle}
th{background:#eaecf0;position:sticky;top:0} td.name{text-align:left;white-space:nowrap}
th.other{background:#f3e8ff}
td.passed{background:#d5fdf4} td.failed{background:#fee7e6;font-weight:bold} td.inconclusive{background:#fef6e7}
td.skipped{background:#f8f9fa;color:#72777d}
.decl{display:block;font-size:.75em;color:#54595d}
.decl.incompatible{color:#d33;font-weight:bold}
.legend span{display:inline-block;padding:.1em .5em;margin-right:.4em;border:1px solid #c8ccd1}
details{margin:.3em 0} summary{cursor:pointer} pre{white-space:pre-wrap;font-size:.8em;background:#f8f9fa;padding:.5em;max-height:20em;overflow:auto}
"""


def _declared(comp: dict[str, Any], core: str, php: str) -> tuple[str, str]:
    """(status, reason) of the component's declared requires for a cell's core and PHP."""
    from mwrelease.lock import LockedComponent, Source
    from mwrelease.runner.plan import component_reasons

    if not comp.get("requires"):
        return "unknown", "no requires declared"
    lc = LockedComponent(name=comp["name"], kind=comp.get("kind", "extension"), ref=comp.get("ref"), ref_type="",
                         commit=comp.get("commit"), version=comp.get("version"), source=Source(type="bundled"),
                         catalog="", requires=comp["requires"])
    reasons = component_reasons(lc, core=core, php=php)
    return ("incompatible", "; ".join(r.message for r in reasons)) if reasons else ("compatible", "")


def _ink(verdict: str) -> str:
    return "#202122" if verdict == "provisional" else "#fff"  # dark text on yellow reads better


def render_seal_page(seals: list[Any], results: list[Any]) -> str:
    from mwrelease.runner.results import CellResult
    from mwrelease.seal import POLICY, Seal, component_in_cell

    cells: dict[str, CellResult] = {}
    locks: dict[str, dict[str, Any]] = {}
    for r in results:
        for c in r.cells:
            cells[c.id] = c
        for lk in r.locks:
            locks[lk["sha256"]] = lk
    parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>mwrelease seal matrix</title>",
             f"<style>{CSS}</style></head><body>", "<h1>Tested compatibility and seal verdicts</h1>",
             "<p class=legend>" + "".join(f'<span style="background:{bg}">{k}</span>' for k, bg in (
                 ("passed", "#d5fdf4"), ("failed", "#fee7e6"), ("inconclusive", "#fef6e7"), ("skipped", "#f8f9fa")))
             + " &nbsp; declared status under each result; purple columns are other core lines (evidence, not seal)</p>"]
    for s in seals:
        assert isinstance(s, Seal)
        lock = locks.get(s.lock_sha256, {})
        comps = {c["name"]: c for c in lock.get("components", [])}
        mine = sorted((cells[cid] for cid in s.cells if cid in cells),
                      key=lambda c: (c.core_line != s.core_line, c.core_line, not c.primary, c.db != "sqlite", c.db))
        # Isolated cells ("…[Cite]") of one core/PHP/database share a column: each row shows its own cell.
        columns: list[tuple[str, list[CellResult]]] = []
        for c in mine:
            key = f"{c.core_line}/{c.php}/{c.db}/{'iso' if '[' in c.id else 'all'}"
            if columns and columns[-1][0] == key:
                columns[-1][1].append(c)
            else:
                columns.append((key, [c]))
        parts.append(f"<h2>{escape(s.bundle)} &nbsp;{badge_svg('bundle', s.verdict, uid=f'seal-{s.bundle}-{s.lock_sha256}')}</h2>")
        parts.append(f"<div class=meta>lock sha256 <code>{s.lock_sha256[:16]}…</code> · core {escape(s.core_version)}"
                     f" · databases {', '.join(s.databases)} · "
                     + ", ".join(f"{n} {k}" for k, n in s.counts().items() if n)
                     + (f"<br>{escape('; '.join(s.reasons))}" if s.reasons else "") + "</div>")
        parts.append("<table><thead><tr><th>component</th><th>verdict</th>")
        for key, group in columns:
            c = group[0]
            cls = "" if c.core_line == s.core_line else " class=other"
            version = c.mediawiki_version or f"core {c.core_line}"
            iso = "<br><i>isolated</i>" if key.endswith("/iso") else ""
            parts.append(f"<th{cls} title='{escape(c.id)}'>{escape(version)}<br>PHP "
                         f"{escape(c.php_version or c.php)}<br>{escape(c.db)}{' ★' if c.primary else ''}{iso}</th>")
        parts.append("</tr></thead><tbody>")
        for v in s.components:
            parts.append(f"<tr><td class=name>{escape(v.name)} <small>{escape(v.ref or '')}</small></td>"
                         f"<td style='background:{COLOURS.get(v.verdict)};color:{_ink(v.verdict)}'>{v.verdict}</td>")
            for _, group in columns:
                c = next((g for g in group if g.id.endswith(f"[{v.name}]")), group[0])
                state, why = component_in_cell(c, v.name)
                decl, dwhy = _declared(comps.get(v.name, {"name": v.name}), c.core, c.php)
                tip = escape("; ".join(why + ([dwhy] if dwhy else [])))[:1500]
                parts.append(f"<td class={state} title='{tip}'>{state}<span class='decl {decl}'>{decl}</span></td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
        for c in mine:
            bad = [ch for ch in c.checks if ch.bad or (ch.status == "failed" and not ch.required)]
            if not bad and not c.reasons:
                continue
            parts.append(f"<details><summary>{escape(c.id)}: {escape(c.status)} — {len(bad)} check(s) not passed"
                         "</summary>")
            for reason in c.reasons[:50]:
                parts.append(f"<div>{escape(reason.get('message', ''))}</div>")
            for ch in bad:
                req = "" if ch.required else " (not required)"
                blame = f" [{', '.join(ch.blame)}]" if ch.blame else ""
                parts.append(f"<details><summary><b>{escape(ch.name)}</b>{req}{escape(blame)}: {escape(ch.message)}"
                             f"</summary><pre>{escape(ch.log)}</pre></details>")
            parts.append("</details>")
    parts.append(f"<h2>Policy</h2><p>{escape(POLICY)}</p></body></html>")
    return "\n".join(parts)
