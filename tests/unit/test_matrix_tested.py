"""The tested status beside the declared one, from a results file of `mwrelease test`."""

from __future__ import annotations

import json
from pathlib import Path

from mwrelease.catalog import load_catalog
from mwrelease.matrix import declared_matrix, results_index, with_tested
from tests.helpers import core_tree


def results_file(tmp_path: Path) -> Path:
    comps = [{"name": n, "kind": "extension", "ref": "REL1_39", "commit": None, "version": None, "source": "path"}
             for n in ("Cite", "Math", "Poem")]
    check = {"duration": 0.1, "message": "", "log": "", "required": True, "blame": []}
    data = {"format": "mwrelease.results/1", "generated_by": "test", "started": "", "finished": "",
            "locks": [{"bundle": "cross", "sha256": "abc", "core_version": "1.43.9", "core_line": "1.43", "components": comps}],
            "cells": [{"id": "cross@1.43-php8.4-sqlite", "bundle": "cross", "lock_sha256": "abc", "core_line": "1.43",
                       "core": "1.43.9", "php": "8.4", "db": "sqlite", "primary": True, "status": "failed", "reasons": [],
                       "checks": [{**check, "name": "siteinfo:extensions", "status": "passed", "component": None},
                                  {**check, "name": "smoke:Poem:poem", "status": "failed", "component": "Poem", "blame": ["Poem"]},
                                  {**check, "name": "php-log", "status": "failed", "component": None, "blame": ["Math"]}]},
                      {"id": "cross@1.39-php8.2-sqlite", "bundle": "cross", "lock_sha256": "abc", "core_line": "1.39",
                       "core": "1.39.17", "php": "8.2", "db": "sqlite", "status": "passed", "reasons": [],
                       "checks": [{**check, "name": "php-errors", "status": "passed", "component": None}]}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    return path


def test_tested_status_per_extension(tmp_path: Path) -> None:
    index = results_index([results_file(tmp_path)])
    assert index[("Cite", "REL1_39", "1.43")][0] == "passed"
    assert index[("Poem", "REL1_39", "1.43")][0] == "failed"
    assert index[("Math", "REL1_39", "1.43")][0] == "failed"  # blamed by the PHP log check
    assert index[("Math", "REL1_39", "1.39")][0] == "passed"
    assert "smoke:Poem:poem" in index[("Poem", "REL1_39", "1.43")][1]["why"][0]


def test_matrix_declared_and_tested(tmp_path: Path) -> None:
    cat = load_catalog([f"core:{core_tree('1.39')}"])
    rows = with_tested(declared_matrix(cat, ["1.43.9"]), results_index([results_file(tmp_path)]))
    by_name = {r.candidate.name: r for r in rows}
    # Declared compatible (REL1_39 says >= 1.39.0), tested failed: exactly the gap the matrix must show.
    assert by_name["Poem"].status == "compatible" and by_name["Poem"].tested == "failed"
    assert by_name["Cite"].tested == "passed"
    assert by_name["ParserFunctions"].tested is None
