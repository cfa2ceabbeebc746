"""Render matrix rows as a terminal table, Markdown or a standalone HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence

from mwrelease.matrix import MatrixRow

SYMBOL = {"compatible": "✓", "incompatible": "✗", "unknown": "?"}
TESTED_SYMBOL = {"passed": "✓", "failed": "✗", "skipped": "–", "error": "!"}
COLOUR = {"compatible": "#2e7d32", "incompatible": "#c62828", "unknown": "#9e9e9e",
          "passed": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e", "error": "#ef6c00"}


def _grid(rows: Sequence[MatrixRow]) -> tuple[list[str], dict[tuple[str, str, str | None], dict[str, MatrixRow]]]:
    cores: list[str] = []
    grid: dict[tuple[str, str, str | None], dict[str, MatrixRow]] = {}
    for r in rows:
        if r.core not in cores:
            cores.append(r.core)
        grid.setdefault((r.candidate.name, r.candidate.kind, r.candidate.ref), {})[r.core] = r
    return cores, grid


def _cell_text(r: MatrixRow | None) -> str:
    if r is None:
        return ""
    text = SYMBOL[r.status]
    if r.tested:
        text += "/" + TESTED_SYMBOL.get(r.tested, r.tested)
    return text


def render_table(rows: Sequence[MatrixRow], *, markdown: bool = False) -> str:
    cores, grid = _grid(rows)
    header = ["name", "kind", "ref", *cores]
    body = [[name, kind, ref or "-", *(_cell_text(cells.get(c)) for c in cores)] for (name, kind, ref), cells in grid.items()]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines + ["", "✓ compatible, ✗ incompatible, ? unknown (no `requires`); after `/`: tested result."])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), *(fmt.format(*row) for row in body)])


def render_html(rows: Sequence[MatrixRow], *, title: str = "MediaWiki compatibility matrix") -> str:
    cores, grid = _grid(rows)
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>",
           "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f5f5f5;position:sticky;top:0}"
           "td.s{color:#fff;text-align:center;font-weight:bold}.legend span{display:inline-block;padding:2px 8px;margin-right:6px;color:#fff}</style>",
           f"<h1>{html.escape(title)}</h1><p class=legend>",
           *(f"<span style='background:{COLOUR[k]}'>{SYMBOL[k]} {k}</span>" for k in SYMBOL),
           "</p><p>Declared status from extension.json <code>requires</code>; after the slash, the tested result where one exists. "
           "Hover a cell for the reasons.</p>",
           "<table><thead><tr><th>name</th><th>kind</th><th>ref</th>",
           *(f"<th>MediaWiki {html.escape(c)}</th>" for c in cores), "</tr></thead><tbody>"]
    for (name, kind, ref), cells in grid.items():
        out.append(f"<tr><td>{html.escape(name)}</td><td>{kind}</td><td>{html.escape(ref or '-')}</td>")
        for c in cores:
            r = cells.get(c)
            if r is None:
                out.append("<td></td>")
                continue
            key = r.tested if r.tested in ("failed", "error") else r.status
            tip = "; ".join(x.message for x in r.reasons) or r.status
            out.append(f"<td class=s style='background:{COLOUR[key]}' title='{html.escape(tip, quote=True)}'>{_cell_text(r)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></html>")
    return "\n".join(out)
