from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from mwrelease.report.badges import badge_svg, text_width, write_badges
from mwrelease.report.seal_html import render_seal_page
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult, CheckResult, Results, lock_summary
from mwrelease.seal import seal
from tests.unit.helpers import make_seal_lock, ok_checks


def sample() -> Results:
    lock = make_seal_lock()
    cells = plan(lock, cores=["1.43", "1.39"])
    bad = ok_checks() + [CheckResult(name="smoke:Poem:x", status="failed", component="Poem", blame=("Poem",),
                                     message="expected <poem>", log="<b>html & stuff</b>")]
    return Results(cells=(CellResult.for_cell(cells[0], bad), CellResult.for_cell(cells[1], ok_checks())),
                   locks=(lock_summary(cells[0]),))


def test_badge_is_valid_svg_and_grows_with_text() -> None:
    svg = badge_svg("Cite REL1_43", "sealed")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "#4c1" in svg
    assert int(root.get("width", "0")) > text_width("Cite REL1_43") + text_width("sealed")
    assert "&amp;" in badge_svg("a&b", "failed")


def test_write_badges(tmp_path: Path) -> None:
    seals = seal([sample()])
    paths = write_badges(list(seals), tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == ["b.svg", "b/Cite.svg", "b/Poem.svg"]
    assert "failed" in (tmp_path / "b" / "Poem.svg").read_text()


def test_html_page_is_well_formed_and_escapes() -> None:
    r = sample()
    page = render_seal_page(seal([r]), [r])

    class Check(HTMLParser):
        cells: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "td":
                self.cells.append(dict(attrs).get("class") or "")

    p = Check()
    p.feed(page)
    assert "failed" in p.cells and "passed" in p.cells
    assert "&lt;b&gt;html &amp; stuff&lt;/b&gt;" in page  # logs are escaped
    assert "class=other" in page  # the 1.39 column is marked as another line
    assert "compatible" in page
