"""`mwrelease ci` in checkouts of real extensions (../shared/data/extension-trees), on real containers.

Two cells, 1.43/SQLite: Thanks, which must pull Echo in from the catalog (the extension-trees git
repositories) and passes; Variables with an uncommitted bug in its working tree, which fails, and is
annotated at the file and line of the extension that the PHP log names.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CORES, REPO, SHARED, run_mwrelease
from tests.integration.helpers import need_any_image

pytestmark = pytest.mark.docker

ARCHIVES = SHARED / "data" / "extension-trees"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ARCHIVES / "index.json").is_file():
        pytest.skip(f"no real extension trees in {ARCHIVES}")
    if not (CORES / "1.43").is_dir():
        pytest.skip("no 1.43 core tree: run ci/fetch-core-trees.sh")
    from mwrelease.ci.trees import build

    cache = tmp_path_factory.mktemp("trees")
    build(ARCHIVES, cache)
    return cache / "extension-git"


def checkout(repos: Path, name: str, tmp: Path) -> Path:
    work = tmp / f"mediawiki-extensions-{name}"
    subprocess.run(["git", "clone", "-q", "-b", "REL1_43", str(repos / f"{name}.git"), str(work)], check=True)
    return work


def ci(work: Path, repos: Path, out: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], Any]:
    catalogs = [a for p in sorted(repos.glob("*.git")) for a in ("--catalog", f"git:{p}")]
    p = run_mwrelease("ci", str(work), "--line", "1.43", "--out-dir", str(out), *catalogs,
                      "--catalog", f"core:{CORES / '1.43'}", "--json", cwd=work, env=env, timeout=1200)
    return p, json.loads(p.stdout)


def test_thanks_pulls_in_echo_and_passes(engine: Any, repos: Path, tmp_path: Path) -> None:
    need_any_image(engine, "mwrelease/base:trixie", "mwrelease/core:1.43-debian")
    work = checkout(repos, "Thanks", tmp_path)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITLAB_CI", None)
    p, doc = ci(work, repos, tmp_path / "out", env)
    assert p.returncode == 0, (p.stderr[-3000:], json.dumps(doc)[:3000])
    (cell,) = doc["data"]["results"]["cells"]
    assert cell["id"] == "ci-Thanks@1.43-php8.4-sqlite[Thanks]" and cell["status"] == "passed"
    assert set(cell["components"]) == {"Thanks", "Echo"}
    checks = {c["name"]: c["status"] for c in cell["checks"]}
    assert checks["siteinfo:Echo"] == "passed" and checks["siteinfo:Thanks"] == "passed"
    assert "passed on 1 cells" in summary.read_text()
    assert "1.43" in (tmp_path / "out" / "badge.svg").read_text()
    assert (tmp_path / "out" / "junit.xml").is_file()


def test_an_uncommitted_bug_fails_and_is_annotated_at_its_line(engine: Any, repos: Path, tmp_path: Path) -> None:
    need_any_image(engine, "mwrelease/base:trixie", "mwrelease/core:1.43-debian")
    work = checkout(repos, "Variables", tmp_path)
    src = work / "includes" / "ExtVariables.php"
    lines = src.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "function pfObj_vardefine(" in line) + 1
    lines.insert(at, "\t\t$mwrNothing = []; $mwrOops = $mwrNothing['mwr-missing'];\n")  # not committed
    src.write_text("".join(lines))
    (work / ".mwrelease.yaml").write_text("smoke:\n  - name: vardefine\n    wikitext: '{{#vardefine:a|bee}}"
                                          "[{{#var:a}}]'\n    expect: '[bee]'\n")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    p, doc = ci(work, repos, tmp_path / "out", env)
    assert p.returncode == 7, p.stderr[-3000:]
    (cell,) = doc["data"]["results"]["cells"]
    checks = {c["name"]: c for c in cell["checks"]}
    assert checks["smoke:Variables:vardefine"]["status"] == "passed"  # the working tree's config was read
    assert checks["php-errors"]["status"] == "failed" and "mwr-missing" in checks["php-errors"]["log"]
    notes = doc["data"]["annotations"]
    assert {"file": "includes/ExtVariables.php", "line": at + 1} in [{"file": n["file"], "line": n["line"]}
                                                                     for n in notes], notes
    report = json.loads((tmp_path / "out" / "gl-code-quality-report.json").read_text())
    assert report[0]["location"]["path"] == "includes/ExtVariables.php"
    # GitHub's workflow command (on stderr, since stdout is the JSON document here)
    assert f"::error file=includes/ExtVariables.php,line={at + 1},title=php-errors" in p.stderr
