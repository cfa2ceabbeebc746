from __future__ import annotations

from pathlib import Path

from mwrelease.catalog import load_catalog
from mwrelease.matrix import declared_matrix
from mwrelease.report.matrix_render import render_html, render_table
from tests.helpers import core_tree


def rows_by(rows, name, ref, core):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.candidate.name == name and r.candidate.ref == ref and r.core == core)


def test_real_trees_declared_matrix() -> None:
    cat = load_catalog([f"core:{core_tree('1.39')}", f"core:{core_tree('1.43')}"])
    rows = declared_matrix(cat, ["1.39.17", "1.43.9"])
    # 1.43's extensions declare >= 1.43: really incompatible with 1.39.
    r = rows_by(rows, "Cite", "REL1_43", "1.39.17")
    assert r.status == "incompatible" and r.reasons[0].code == "incompatible-core"
    assert "requires MediaWiki >= 1.43" in r.reasons[0].message
    # 1.39's REL branches declare >= 1.39.0, which admits 1.43: declared compatible (the container tests tell more).
    assert rows_by(rows, "Cite", "REL1_39", "1.43.9").status == "compatible"
    assert rows_by(rows, "Echo", "REL1_43", "1.43.9").status == "compatible"


def test_snapshot_matrix_json_shape(snapshots: Path) -> None:
    cat = load_catalog([str(snapshots)])
    rows = declared_matrix(cat, ["1.39.4", "1.43.9", "1.44.0"], php=["8.2"])
    assert len(rows) == 882 * 3
    data = [r.to_json() for r in rows]
    assert {"name", "kind", "ref", "core", "status", "reasons", "tested"} <= set(data[0])
    statuses = {d["status"] for d in data}
    assert statuses == {"compatible", "incompatible", "unknown"}
    smw = rows_by(rows, "SemanticMediaWiki", "7.0.0", "1.39.4")
    assert smw.status == "incompatible" and smw.reasons[0].code == "incompatible-core"
    # Translate needs UniversalLanguageSelector; on 1.44 the snapshot has fitting ULS refs.
    tr = rows_by(rows, "Translate", "REL1_44", "1.44.0")
    assert tr.status == "compatible"


def test_missing_dependency_reason(tmp_path: Path) -> None:
    import json

    d = tmp_path / "Needy"
    d.mkdir()
    (d / "extension.json").write_text(json.dumps({"name": "Needy", "requires": {"MediaWiki": ">= 1.39", "extensions": {"Ghost": "*"}}}))
    rows = declared_matrix(load_catalog([str(tmp_path)]), ["1.43.0"])
    assert rows[0].status == "incompatible" and rows[0].reasons[0].code == "missing-extensions"


def test_renderings(snapshots: Path) -> None:
    cat = load_catalog([str(snapshots / "Cite.json")])
    rows = declared_matrix(cat, ["1.39.4", "1.43.9"])
    table = render_table(rows)
    assert "REL1_43" in table.splitlines()[9] or "REL1_43" in table
    md = render_table(rows, markdown=True)
    assert md.startswith("| name | kind | ref | 1.39.4 | 1.43.9 |")
    page = render_html(rows)
    assert page.count("<tr>") == len({r.candidate.ref for r in rows}) + 1
    assert "requires MediaWiki" in page
