"""--name narrows what is shown, not what requirements are checked against (issue 10, item 7: dependency
checks before name filters), through the real entry point on the real snapshot catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mwrelease.cli import cli


def matrix_json(snapshots: Path, *extra: str) -> list[dict[str, Any]]:
    r = CliRunner().invoke(cli, ["matrix", "--catalog", str(snapshots), "--core", "1.44.0", "--format", "json", *extra])
    assert r.exit_code == 0, r.output
    rows: list[dict[str, Any]] = json.loads(r.output)
    return rows


def by_ref(rows: list[dict[str, Any]], name: str) -> dict[str, tuple[str, list[dict[str, str]]]]:
    return {r["ref"]: (r["status"], r["reasons"]) for r in rows if r["name"] == name}


def test_matrix_name_filter_checks_requirements_against_the_whole_catalog(snapshots: Path) -> None:
    everything = by_ref(matrix_json(snapshots), "Translate")
    rows = matrix_json(snapshots, "--name", "Translate")
    only = by_ref(rows, "Translate")
    assert {r["name"] for r in rows} == {"Translate"}  # the filter still narrows the rows
    # Translate requires UniversalLanguageSelector: filtering it out of the view must not make it "missing".
    assert everything["REL1_44"][0] == "compatible"
    assert only == everything
    assert only["REL1_44"] == ("compatible", [])
    assert not any(reason["code"] == "missing-extensions" for _, reasons in only.values() for reason in reasons)


def test_matrix_name_filter_names_each_ref_once(snapshots: Path) -> None:
    rows = matrix_json(snapshots, "--name", "Translate,Translate")
    assert len(rows) == len(by_ref(rows, "Translate"))


def test_site_name_filter_checks_requirements_against_the_whole_catalog(snapshots: Path, tmp_path: Path) -> None:
    def build(out: Path, *extra: str) -> dict[str, Any]:
        r = CliRunner().invoke(cli, ["site", "build", "--catalog", str(snapshots), "--core", "1.44.0",
                                     "--out-dir", str(out), "--json", *extra])
        assert r.exit_code == 0, r.output
        envelope: dict[str, Any] = json.loads(r.output)
        return envelope

    build(tmp_path / "all")
    narrowed = build(tmp_path / "one", "--name", "Translate")
    index = {d: {e["name"]: e for e in json.loads((tmp_path / d / "site.json").read_text())["extensions"]}
             for d in ("all", "one")}
    assert list(index["one"]) == ["Translate"]
    assert index["all"]["Translate"]["lines"]["1.44"] == {"ref": "REL1_44", "state": "declared-compatible"}
    assert index["one"]["Translate"] == index["all"]["Translate"]
    assert narrowed["data"]["extensions"] == 1 and narrowed["data"]["counts"] == {"declared-compatible": 1}
    page = (tmp_path / "one" / "ext" / "Translate.html").read_text()
    assert "which the catalog does not have" not in page
