"""Shields-style flat SVG badges ("mwrelease | sealed"), self-contained, no fonts or network needed.

Text width is measured, not guessed: ``data/verdana-11px-normal.json`` is the per-character advance
width table of Verdana 11px that shields.io measures with (from the npm package anafanafo, MIT; see
``data/README.txt``). The SVG also pins each text run to that width (``textLength``), so a fallback
font (DejaVu Sans on most Linux desktops) is squeezed into the box instead of overflowing it.

Every id inside a badge (its gradient and clip path) carries a suffix unique to that badge, so that
several badges inlined into one HTML page do not pick up each other's clip paths.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path

COLOURS = {"sealed": "#4c1", "provisional": "#dfb317", "failed": "#e05d44", "untested": "#9f9f9f",
           "passed": "#4c1", "inconclusive": "#fe7d37", "skipped": "#9f9f9f"}
PADDING = 5  # px on each side of a text run, as shields.io


@lru_cache(maxsize=1)
def _width_table() -> tuple[list[int], list[tuple[int, int, float]]]:
    raw = json.loads(resources.files("mwrelease.report").joinpath("data/verdana-11px-normal.json").read_text())
    ranges = [(int(lo), int(hi), float(w)) for lo, hi, w in raw]
    return [r[0] for r in ranges], ranges


def char_width(ch: str) -> float:
    """Advance width in px of one character in Verdana 11px; unknown characters count as an 'm'."""
    code = ord(ch)
    if code <= 31 or code == 127:
        return 0.0
    starts, ranges = _width_table()
    i = bisect.bisect_right(starts, code) - 1
    if i >= 0:
        lo, hi, w = ranges[i]
        if lo <= code <= hi:
            return w
    return char_width("m")


def text_width(text: str) -> int:
    """Width in px of ``text`` in Verdana 11px, rounded up so the text never overflows its box."""
    import math

    return math.ceil(sum(char_width(ch) for ch in text))


def badge_svg(label: str, message: str, colour: str | None = None, *, uid: str | None = None) -> str:
    """One badge. ``uid`` makes the SVG's ids unique on a page; by default it is derived from the
    badge's text and colour (so equal badges are byte-identical; give distinct ``uid`` values when
    inlining several badges into one page)."""
    colour = colour or COLOURS.get(message, "#9f9f9f")
    ltw, mtw = text_width(label), text_width(message)
    lw, mw = ltw + 2 * PADDING, mtw + 2 * PADDING
    total = lw + mw
    lab, msg = escape(label), escape(message)
    suffix = _id_suffix(uid if uid is not None else f"{label}\0{message}\0{colour}")
    grad, clip = f"s-{suffix}", f"r-{suffix}"
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{lab}: {msg}">
<title>{lab}: {msg}</title>
<linearGradient id="{grad}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="{clip}"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#{clip})"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#{grad})"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="{lw / 2:.1f}" y="15" fill="#010101" fill-opacity=".3" textLength="{ltw}">{lab}</text><text x="{lw / 2:.1f}" y="14" textLength="{ltw}">{lab}</text>
<text x="{lw + mw / 2:.1f}" y="15" fill="#010101" fill-opacity=".3" textLength="{mtw}">{msg}</text><text x="{lw + mw / 2:.1f}" y="14" textLength="{mtw}">{msg}</text>
</g></svg>
"""


def _id_suffix(key: str) -> str:
    # ids must be valid XML names: a hex digest of the key, whatever characters the key has.
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def write_badges(seals: list[object], directory: Path) -> list[Path]:
    """``BUNDLE.svg`` per bundle and ``BUNDLE/NAME.svg`` per extension or skin."""
    from mwrelease.seal import Seal

    out: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    for s in seals:
        assert isinstance(s, Seal)
        p = directory / f"{_safe(s.bundle)}.svg"
        p.write_text(badge_svg(f"{s.bundle} on {s.core_line}", s.verdict, uid=f"{s.bundle}"))
        out.append(p)
        sub = directory / _safe(s.bundle)
        sub.mkdir(exist_ok=True)
        for c in s.components:
            q = sub / f"{_safe(c.name)}.svg"
            q.write_text(badge_svg(f"{c.name} {c.ref or ''}".strip(), c.verdict, uid=f"{s.bundle}/{c.name}"))
            out.append(q)
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
