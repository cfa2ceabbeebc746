"""Shields-style flat SVG badges ("mwrelease | sealed"), self-contained, no fonts or network needed.

Text width is estimated from per-character widths of Verdana 11px (what shields.io measures with),
close enough that the label never overflows its box.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

COLOURS = {"sealed": "#4c1", "provisional": "#dfb317", "failed": "#e05d44", "untested": "#9f9f9f",
           "passed": "#4c1", "inconclusive": "#fe7d37", "skipped": "#9f9f9f"}

# Approximate advance widths (px) of Verdana 11px; other characters count as 7.
_NARROW = set("fijlrtI!.,:;'|()[] ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> int:
    w = 0.0
    for ch in text:
        w += 3.9 if ch in _NARROW else 9.9 if ch in _WIDE else 7.6 if ch.isupper() else 6.6
    return int(round(w))


def badge_svg(label: str, message: str, colour: str | None = None) -> str:
    colour = colour or COLOURS.get(message, "#9f9f9f")
    lw, mw = text_width(label) + 10, text_width(message) + 10
    total = lw + mw
    lab, msg = escape(label), escape(message)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{lab}: {msg}">
<title>{lab}: {msg}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="{lw / 2:.1f}" y="15" fill="#010101" fill-opacity=".3">{lab}</text><text x="{lw / 2:.1f}" y="14">{lab}</text>
<text x="{lw + mw / 2:.1f}" y="15" fill="#010101" fill-opacity=".3">{msg}</text><text x="{lw + mw / 2:.1f}" y="14">{msg}</text>
</g></svg>
"""


def write_badges(seals: list[object], directory: Path) -> list[Path]:
    """``BUNDLE.svg`` per bundle and ``BUNDLE/NAME.svg`` per extension or skin."""
    from mwrelease.seal import Seal

    out: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    for s in seals:
        assert isinstance(s, Seal)
        p = directory / f"{_safe(s.bundle)}.svg"
        p.write_text(badge_svg(f"{s.bundle} on {s.core_line}", s.verdict))
        out.append(p)
        sub = directory / _safe(s.bundle)
        sub.mkdir(exist_ok=True)
        for c in s.components:
            q = sub / f"{_safe(c.name)}.svg"
            q.write_text(badge_svg(f"{c.name} {c.ref or ''}".strip(), c.verdict))
            out.append(q)
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
