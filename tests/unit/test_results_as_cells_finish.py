"""`mwrelease test --results/--junit` write the files as each cell finishes, not only at the end: a wrong path
fails at the first cell, and a run that is interrupted keeps the cells it finished (issue 10, item 5)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwrelease.cli import cli
from tests.unit.test_progress import _fake_engine
from tests.unit.helpers import make_seal_lock


def test_results_and_junit_grow_with_each_finished_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_engine(monkeypatch)
    results, junit = tmp_path / "out" / "results.json", tmp_path / "out" / "junit.xml"
    seen: list[tuple[int, str, int]] = []
    from mwrelease.runner.results import Results

    real = Results.dump

    def watching(self: Results, path: Path) -> None:
        # What a reader finds on disk after each write: the results so far, and the JUnit file beside them.
        real(self, path)
        doc = json.loads(path.read_text())
        cases = len(list(ET.parse(junit).getroot().iter("testcase"))) if junit.exists() else 0
        seen.append((len(doc["cells"]), doc["finished"], cases))

    monkeypatch.setattr(Results, "dump", watching)
    lock = tmp_path / "b.lock"
    make_seal_lock(("sqlite", "mariadb", "postgres")).dump(lock)
    r = CliRunner().invoke(cli, ["test", str(lock), "--db", "sqlite,mariadb,postgres", "--results", str(results),
                                 "--junit", str(junit)])
    assert r.exit_code == 7, r.output
    # One write per finished cell, then the complete document: "finished" is stamped only at the end.
    assert [n for n, _, _ in seen] == [1, 2, 3, 3] and [bool(f) for _, f, _ in seen] == [False] * 3 + [True]
    assert seen[0][2] < seen[1][2] < seen[2][2]  # the JUnit file grows with them (written after the results)
    doc = json.loads(results.read_text())
    assert len(doc["cells"]) == 3 and doc["finished"] and doc["plan"]["cells"]
    assert [c["db"] for c in doc["cells"]] == ["sqlite", "mariadb", "postgres"]  # plan order at the end
    assert len(list(ET.parse(junit).getroot().iter("testcase"))) >= 3


def test_a_results_path_that_cannot_be_written_fails_at_the_first_cell(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_engine(monkeypatch)
    (tmp_path / "file").write_text("not a folder")
    lock = tmp_path / "b.lock"
    make_seal_lock(("sqlite", "mariadb", "postgres")).dump(lock)
    r = CliRunner().invoke(cli, ["test", str(lock), "--db", "sqlite,mariadb,postgres",
                                 "--results", str(tmp_path / "file" / "results.json")])
    assert r.exit_code != 0 and r.exit_code != 7, r.output
    assert len(ran) <= 1, ran  # not after every cell ran
