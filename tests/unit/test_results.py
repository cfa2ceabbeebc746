from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult, CheckResult, Results, excerpt, junit_xml, lock_summary, merge, outcome


def make_lock() -> Lock:
    c = LockedComponent(name="Cite", kind="extension", ref="REL1_43", ref_type="bundled", commit=None, version=None,
                        source=Source(type="bundled"), catalog="t", requires={"MediaWiki": ">= 1.43"})
    return Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=(c,))


def sample() -> Results:
    lock = make_lock()
    ok, skipped = plan(lock, cores=["1.43", "1.39"])
    checks = [
        CheckResult(name="install", status="passed", duration=3.2),
        CheckResult(name="smoke:Cite:footnote", status="failed", duration=0.2, message="expected 'A note'",
                    log="<p>Text\x1b[0m & <b>bold</b></p>", component="Cite", blame=("Cite",)),
        CheckResult(name="load.php:ext.cite", status="error", message="engine", log="boom"),
        CheckResult(name="optional", status="failed", required=False, message="meh"),
        CheckResult(name="special-version", status="skipped", message="install failed"),
    ]
    return Results(cells=(CellResult.for_cell(ok, checks, duration=5.0, image="img"), CellResult.for_cell(skipped)),
                   locks=(lock_summary(ok),), started="2026-11-22T02:00:00Z", finished="2026-11-22T02:01:00Z",
                   generated_by="test")


def test_outcome_rules() -> None:
    assert outcome([]) == "passed"
    assert outcome([CheckResult(name="a", status="failed", required=False)]) == "passed"
    assert outcome([CheckResult(name="a", status="error")]) == "error"
    assert outcome([CheckResult(name="a", status="error"), CheckResult(name="b", status="failed")]) == "failed"


def test_cell_status_from_plan_and_checks() -> None:
    r = sample()
    assert [c.status for c in r.cells] == ["failed", "skipped-incompatible"]
    assert r.failed
    assert [c.name for c in r.cells[0].failed_required] == ["smoke:Cite:footnote", "load.php:ext.cite"]
    assert r.cells[1].reasons[0]["code"] == "incompatible-core"


def test_json_round_trip_and_digest(tmp_path: Path) -> None:
    r = sample()
    p = tmp_path / "r.json"
    r.dump(p)
    data = json.loads(p.read_text())
    assert data["format"] == "mwrelease.results/1"
    assert data["locks"][0]["sha256"] == r.cells[0].lock_digest
    back = Results.load(p)
    assert back == r and back.digest() == r.digest()
    assert data["cells"][0]["checks"][1]["blame"] == ["Cite"]


def test_load_rejects_other_formats(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"format": "mwrelease.lock/1"}')
    with pytest.raises(ConfigError, match="not an mwrelease results file"):
        Results.load(p)
    p.write_text("{")
    with pytest.raises(ConfigError):
        Results.load(p)


def test_junit_xml_parses_and_counts() -> None:
    xml = junit_xml(sample())
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    assert root.get("tests") == "6" and root.get("failures") == "1" and root.get("errors") == "1"
    assert root.get("skipped") == "3"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["b@1.43-php8.4-sqlite", "b@1.39-php8.2-sqlite"]
    failure = suites[0].find("testcase[@name='smoke:Cite:footnote']/failure")
    assert failure is not None and failure.get("message") == "expected 'A note'"
    assert "<b>bold</b>" in (failure.text or "") and "\\x1b" in (failure.text or "")
    skipped = suites[1].find("testcase/skipped")
    assert skipped is not None and "skipped-incompatible" in (skipped.get("message") or "")
    props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert props["lock_sha256"] == sample().cells[0].lock_digest


def test_merge_later_wins() -> None:
    a = sample()
    fixed = CellResult.for_cell(plan(make_lock())[0], [CheckResult(name="install", status="passed")])
    b = Results(cells=(fixed,), locks=a.locks, started="2026-11-22T03:00:00Z", finished="2026-11-22T03:01:00Z")
    m = merge([a, b])
    assert len(m.cells) == 2 and m.cells[0].status == "passed"
    assert m.started == a.started and m.finished == b.finished


def test_excerpt_keeps_the_end() -> None:
    assert excerpt("x" * 10 + "END", limit=5) == "…xEND"
    assert excerpt("  short \n") == "short"
