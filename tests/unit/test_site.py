"""The compatibility site's model and renderer, without a browser (tests/integration/test_site_browser.py
opens the pages in chromium)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mwrelease.catalog import Candidate, Catalog, Requires
from mwrelease.report.badges import badge_svg, char_width, text_width
from mwrelease.report.site import load_results, load_seal, plan_site, recommend, slugify
from mwrelease.report.site_model import STATES, RefOnLine
from mwrelease.report.site_model import TestedCell as InCell  # not 'Test…': pytest would collect it
from mwrelease.report.site_render import environment, index_data, index_rows, extension_badge, write_site
from tests.site_data import EVIL, write_small_inputs


def cand(name: str, ref: str, mw: str | None, date: str = "2024-01-01") -> Candidate:
    return Candidate(name=name, kind="extension", ref=ref, ref_type="branch", commit_date=date,
                     requires=Requires.from_manifest({"MediaWiki": mw}) if mw else Requires())


def small(tmp_path: Path) -> Any:
    from mwrelease.catalog import load_catalog

    inputs = write_small_inputs(tmp_path)
    seals = inputs["seals"]
    assert isinstance(seals, list) and isinstance(inputs["results"], Path)
    return plan_site(load_catalog([str(inputs["catalog"])]), ["1.39.17"], results=load_results([inputs["results"]]),
                     seals=[(str(p), load_seal(p)) for p in seals], generated_by="mwrelease test",
                     generated_at_text="2026-12-02 13:00 UTC")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    return p


def test_a_name_with_script_is_escaped_everywhere(tmp_path: Path) -> None:
    site = small(tmp_path)
    write_site(site, tmp_path / "out")
    evil = next(e for e in site.extensions if e.name == EVIL)
    page = (tmp_path / "out" / "ext" / f"{evil.slug}.html").read_text()
    assert EVIL not in page and "&lt;script&gt;alert(" in page
    index = (tmp_path / "out" / "index.html").read_text()
    assert EVIL not in index
    # the only script elements are the site's own: the JSON data block and site.js
    tags = parse(index)
    scripts = [a for t, a in tags.tags if t == "script"]
    assert [a.get("src") or a.get("type") for a in scripts] == ["application/json", "static/site.js"]
    # the JSON block holds the name intact once parsed, but no "</script" can close it early
    data = json.loads(tags.scripts[0])
    assert EVIL in [r[0] for r in data["rows"]] and "</script" not in tags.scripts[0].lower()
    assert not re.search(r"[^\w.-]", evil.slug)


def test_logs_and_reasons_are_escaped(tmp_path: Path) -> None:
    site = small(tmp_path)
    write_site(site, tmp_path / "out")
    poem = (tmp_path / "out" / "ext" / "Poem.html").read_text()
    assert "&lt;b&gt;html &amp; stuff&lt;/b&gt;" in poem and "<b>html" not in poem
    assert "expected &lt;poem&gt; output" in poem


def test_states_map_to_distinct_classes_and_colours(tmp_path: Path) -> None:
    site = small(tmp_path)
    write_site(site, tmp_path / "out")
    poem = parse((tmp_path / "out" / "ext" / "Poem.html").read_text())
    classes = {c for t, a in poem.tags if t == "td" for c in (a.get("class") or "").split()}
    assert "st-tested-failed" in classes and "st-tested-passed" in classes
    assert "st-declared-incompatible" in classes  # REL1_43 on 1.39
    # every state has its own CSS rule with a background no other state shares
    from importlib import resources

    css = resources.files("mwrelease.report").joinpath("static/site.css").read_text()
    backgrounds = {}
    for s in STATES:
        m = re.search(rf"\.st-{s}[^{{]*\{{[^}}]*background:(#[0-9a-f]+)", css)
        assert m, f"no CSS rule for st-{s}"
        backgrounds[s] = m.group(1)
    assert len(set(backgrounds.values())) == len(STATES)
    # the legend lists every state, tested ones included
    legend = [a.get("class") for t, a in poem.tags if t == "span" and "st" in (a.get("class") or "").split()]
    assert {f"st st-{s}" for s in STATES} <= set(legend)


def test_a_tested_failure_is_not_a_declared_incompatibility() -> None:
    failed = InCell(cell_id="b@1.43-php8.4-sqlite", bundle="b", core_line="1.43", mediawiki_version="1.43.5",
                        php="8.4", db="sqlite", primary=True, status="failed")
    cell = RefOnLine(ref="REL1_43", line="1.43", core="1.43.9", declared="compatible", tested=(failed,))
    assert cell.state == "tested-failed"
    assert RefOnLine(ref="REL1_43", line="1.43", core="1.43.9", declared="incompatible").state == "declared-incompatible"
    # passed on one database, failed on another: the failure shows
    passed = InCell(cell_id="x", bundle="b", core_line="1.43", mediawiki_version="1.43.5", php="8.4", db="mariadb",
                        primary=False, status="passed")
    assert RefOnLine(ref="R", line="1.43", core="1.43.9", declared="compatible", tested=(passed, failed)).state == "tested-failed"


def test_recommended_ref_and_tested_up_to(tmp_path: Path) -> None:
    site = small(tmp_path)
    by = {e.name: e for e in site.extensions}
    cite, poem = by["Cite"], by["Poem"]
    assert cite.recommended == {"1.39": "REL1_39", "1.43": "REL1_43"}
    assert cite.grid[("REL1_43", "1.43")].state == "tested-passed"
    assert cite.tested_up_to == "1.43"
    # Poem REL1_43 failed on MariaDB: not recommended on 1.43; REL1_39 (">= 1.39.0", untested there) is
    assert poem.grid[("REL1_43", "1.43")].state == "tested-failed"
    assert poem.recommended["1.43"] == "REL1_39" and poem.index_state("1.43") == "declared-compatible"
    assert poem.tested_up_to is None
    assert extension_badge(poem) == ("MediaWiki", "failed on 1.43", "#e05d44")  # not "untested": it was tested
    assert extension_badge(cite)[1] == "tested 1.43" and extension_badge(by["Vector"])[1] == "untested"
    assert by["Vector"].kind == "skin" and by["Vector"].tested_up_to is None


def test_recommend_prefers_tested_then_own_branch_then_newest() -> None:
    def on(state: str, ref: str) -> RefOnLine:
        tested = () if state.startswith("declared") else (InCell(
            cell_id=ref, bundle="b", core_line="1.43", mediawiki_version="1.43.5", php="8.4", db="sqlite",
            primary=True, status=state.split("-")[1]),)  # type: ignore[arg-type]
        declared = state.split("-")[1] if state.startswith("declared") else "compatible"
        return RefOnLine(ref=ref, line="1.43", core="1.43.9", declared=declared, tested=tested)  # type: ignore[arg-type]

    dates = {"master": "2026", "REL1_43": "2025", "REL1_42": "2024"}
    cells = {"master": on("declared-compatible", "master"), "REL1_43": on("declared-compatible", "REL1_43")}
    assert recommend(list(cells), cells, "1.43", dates) == "REL1_43"  # the line's own branch
    cells["master"] = on("tested-passed", "master")
    assert recommend(list(cells), cells, "1.43", dates) == "master"  # tested beats declared
    cells["master"] = on("tested-failed", "master")
    cells["REL1_43"] = on("declared-unknown", "REL1_43")
    assert recommend(list(cells), cells, "1.43", dates) == "REL1_43"  # own branch, even if it declares nothing
    cells["REL1_42"] = on("declared-compatible", "REL1_42")
    assert recommend(list(cells), cells, "1.43", dates) == "REL1_42"
    assert recommend(["master"], {"master": on("tested-failed", "master")}, "1.43", dates) is None


def test_extension_pages_have_distinct_file_names() -> None:
    taken: set[str] = set()
    slugs = [slugify(n, taken) for n in ("Cite", "A B", "A_B", "cite", EVIL)]
    assert slugs[0] == "Cite" and len({s.lower() for s in slugs}) == 5


def test_stamp_names_version_date_and_digests(tmp_path: Path) -> None:
    site = small(tmp_path)
    write_site(site, tmp_path / "out")
    index = (tmp_path / "out" / "index.html").read_text()
    results = load_results([tmp_path / "results.json"])[0][1]
    assert "mwrelease test" in index and "2026-12-02 13:00 UTC" in index
    assert results.digest() in index  # the digest seals name
    assert [i.what for i in site.inputs] == ["results", "seal", "seal"]
    data = json.loads((tmp_path / "out" / "site.json").read_text())
    assert data["inputs"][0]["sha256"] == results.digest()


def test_index_data_masks_match_the_states(tmp_path: Path) -> None:
    site = small(tmp_path)
    data = index_data(site, index_rows(site))
    row = next(r for r in data["rows"] if r[0] == "Poem")
    li = data["lines"].index("1.43")
    ref, shown, mask = row[4][li]
    # shown: the recommended REL1_39 (declared); the mask also knows REL1_43 failed there (state filter)
    assert ref == "REL1_39" and data["states"][shown] == "declared-compatible"
    assert mask & (1 << STATES.index("tested-failed")) and mask & (1 << data["rec_bit"])
    assert not mask & (1 << STATES.index("tested-passed"))
    cite = next(r for r in data["rows"] if r[0] == "Cite")
    assert cite[4][li][0] == "REL1_43" and cite[4][li][2] & (1 << data["rec_bit"])


def test_two_badges_on_a_page_do_not_share_ids(tmp_path: Path) -> None:
    site = small(tmp_path)
    write_site(site, tmp_path / "out")
    # index: the two bundles' badges; Poem: "tested up to" and its verdict in both bundles
    for page, badges in (("index.html", 2), ("ext/Poem.html", 3)):
        ids = [a["id"] for t, a in parse((tmp_path / "out" / page).read_text()).tags if a.get("id")]
        assert len(ids) == len(set(ids)), page
        assert sum(1 for i in ids if i.startswith("r-")) == badges  # one clip path per badge
    a, b = badge_svg("x", "sealed", uid="1"), badge_svg("x", "sealed", uid="2")
    assert re.findall(r'id="([^"]+)"', a) != re.findall(r'id="([^"]+)"', b)
    assert badge_svg("x", "sealed") == badge_svg("x", "sealed")  # deterministic by default


def test_badge_text_width_comes_from_the_verdana_table() -> None:
    # Verdana 11px advance widths (shields.io's table): 'A' 7.52, 'i' 3.03, 'W' 10.88 px.
    assert char_width("W") == pytest.approx(10.88) and char_width("A") == pytest.approx(7.52)
    assert text_width("iiii") < text_width("WWWW")
    assert text_width("sealed") == int(-(-sum(char_width(c) for c in "sealed") // 1))
    assert char_width(chr(0x10FFFD)) == char_width("m")  # not in the table: as wide as an 'm'
    svg = ET.fromstring(badge_svg("Cite REL1_43", "sealed"))
    texts = [t for t in svg.iter() if t.tag.endswith("text")]
    assert {t.get("textLength") for t in texts} == {str(text_width("Cite REL1_43")), str(text_width("sealed"))}


def test_templates_autoescape() -> None:
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"


def test_site_without_results_is_declared_only(tmp_path: Path) -> None:
    cat = Catalog([cand("Cite", "REL1_43", ">= 1.43"), cand("Cite", "REL1_39", ">= 1.39"), cand("Old", "REL1_35", None)])
    site = plan_site(cat, ["1.43.9"], generated_at_text="x")
    assert {e.name: e.index_state("1.43") for e in site.extensions} == {"Cite": "declared-compatible",
                                                                        "Old": "declared-unknown"}
    write_site(site, tmp_path)
    assert "No results files" in (tmp_path / "index.html").read_text()


def test_site_needs_a_core() -> None:
    from mwrelease.errors import ConfigError

    with pytest.raises(ConfigError):
        plan_site(Catalog([]), [])


def test_cli_builds_the_site(tmp_path: Path, run_cli: Any) -> None:
    inputs = write_small_inputs(tmp_path)
    seals = inputs["seals"]
    assert isinstance(seals, list)
    out = tmp_path / "site"
    done = run_cli("site", "build", "--out-dir", str(out), "--catalog", str(inputs["catalog"]), "--core", "1.39.17,1.43.9",
                   "--results", str(inputs["results"]), "--seal", str(seals[0]), "--json")
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)
    assert env["status"] == "ok" and env["data"]["lines"] == ["1.39", "1.43"] and env["data"]["extensions"] == 4
    assert (out / "index.html").is_file() and (out / "ext" / "Poem.html").is_file() and (out / "badges" / "Cite.svg").is_file()
    # a rebuild without an extension removes its page (with the old, hidden -o spelling of --out-dir)
    done = run_cli("site", "build", "-o", str(out), "--catalog", str(inputs["catalog"]), "--core", "1.43.9", "--name", "Cite")
    assert done.returncode == 0, done.stderr
    assert not (out / "ext" / "Poem.html").exists() and (out / "ext" / "Cite.html").exists()
    bad = run_cli("site", "build", "--out-dir", str(out), "--catalog", str(inputs["catalog"]), "--core", "1.43.9",
                  "--seal", str(inputs["results"]))
    assert bad.returncode == 3 and "not an mwrelease seal statement" in bad.stderr
    both = run_cli("site", "build", "--out-dir", str(out), "-o", str(out), "--catalog", str(inputs["catalog"]))
    assert both.returncode == 2 and "--out-dir" in both.stderr
