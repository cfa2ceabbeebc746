"""`mwrelease ci` without an engine: the checkout, .mwrelease.yaml, lines, --with, the bundle it tests,
composer needs, annotations, the summary and the extension-trees sources."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from mwrelease.catalog import load_catalog
from mwrelease.ci import report
from mwrelease.ci.composer import core_packages, missing_libraries
from mwrelease.ci.extension import choose_lines, load_config, parse_with, plan_ci, read_checkout
from mwrelease.ci.trees import build, read_index
from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.runner.results import CellResult, CheckResult, Results
from tests.helpers import run_mwrelease


def ext(tmp: Path, name: str = "Demo", requires: dict[str, object] | None = None, directory: str = "") -> Path:
    d = tmp / (directory or name)
    (d / "includes").mkdir(parents=True)
    (d / "extension.json").write_text(json.dumps({"name": name, "version": "1.0.0", "manifest_version": 2,
                                                   "requires": requires or {"MediaWiki": ">= 1.39.0"}}))
    return d


def test_checkout_named_by_its_manifest_not_its_directory(tmp_path: Path) -> None:
    c = read_checkout(ext(tmp_path, "Demo", directory="mediawiki-extensions-Demo"))
    assert c.name == "Demo" and c.kind == "extension" and c.manifest == "extension.json"
    # "Clean Changes" is loaded from extensions/CleanChanges
    assert read_checkout(ext(tmp_path, "Clean Changes", directory="cc")).name == "CleanChanges"
    with pytest.raises(ConfigError, match="neither extension.json nor skin.json"):
        read_checkout(tmp_path)


def test_config_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    d = ext(tmp_path)
    (d / ".mwrelease.yaml").write_text("settings: 1\nsmoke:\n  - wikitext: x\nlines: [\"1.43\"]\n"
                                       "databases: [oracle]\nbogus: true\n")
    with pytest.raises(ConfigError) as exc:
        load_config(d)
    details = exc.value.details
    assert len(details) == 4, details
    where = sorted((x.split(": ")[0], x.split(": ")[1]) for x in details)
    f = d / ".mwrelease.yaml"
    assert where == sorted([(f"{f}:1", "(top level)"), (f"{f}:1", "settings"), (f"{f}:3", "smoke.0"),
                            (f"{f}:5", "databases.0")]), details
    (d / ".mwrelease.yaml").write_text("settings: |\n  $wgDemo = true;\nsmoke:\n  - {wikitext: '{{demo}}', expect: ok}\n"
                                       "extensions:\n  Echo: {ref: REL1_43}\nskip: {lines: ['1.39'], databases: [postgres]}\n")
    cfg = load_config(d)
    assert cfg.settings.strip() == "$wgDemo = true;" and cfg.skip_lines == ("1.39",)
    assert dict(cfg.extensions) == {"Echo": {"ref": "REL1_43"}}


def test_lines_follow_requires_and_config(tmp_path: Path) -> None:
    c = read_checkout(ext(tmp_path, requires={"MediaWiki": ">= 1.43"}))
    lines, why = choose_lines(c, load_config(c.path), [])
    assert lines == ["1.43"] and "requires MediaWiki >= 1.43" in why["1.39"]
    lines, why = choose_lines(c, load_config(c.path), ["1.39"])
    assert lines == [] and why["1.43"] == "not asked for (--line)"
    with pytest.raises(ConfigError, match="No image for MediaWiki 1.12"):
        choose_lines(c, load_config(c.path), ["1.12"])


def test_with_forms(tmp_path: Path) -> None:
    assert parse_with(["Echo=@REL1_43", "Cite=bundled", "X=https://example.org/x.git", f"Y={tmp_path}"]) == {
        "Echo": {"ref": "REL1_43"}, "Cite": {"source": "bundled"}, "X": {"source": {"git": "https://example.org/x.git"}},
        "Y": {"source": {"path": str(tmp_path.resolve())}}}
    with pytest.raises(ConfigError, match="NAME=SOURCE"):
        parse_with(["Echo"])


def test_plan_tests_the_working_tree_and_resolves_requirements(tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    ext(deps, "Needed")
    c = read_checkout(ext(tmp_path, "Demo", requires={"MediaWiki": ">= 1.39.0", "extensions": {"Needed": "*"}}))
    (c.path / "uncommitted.txt").write_text("x")
    sessions = plan_ci(c, load_config(c.path), catalog=load_catalog([f"tree:{deps}"]), lines=["1.39", "1.43"],
                       withs={}, dbs=["sqlite", "mariadb"])
    ids = [cell.id for s in sessions for cell in s.cells]
    assert ids == ["ci-Demo@1.39-php8.2-sqlite[Demo]", "ci-Demo@1.39-php8.2-mariadb[Demo]",
                   "ci-Demo@1.43-php8.4-sqlite[Demo]", "ci-Demo@1.43-php8.4-mariadb[Demo]"]
    lock = sessions[0].lock
    assert lock.component("Demo").source.path == str(c.path)  # the tree as it is, not a clone of a commit
    assert sessions[0].cells[0].only == ("Demo", "Needed") or set(sessions[0].cells[0].only) == {"Demo", "Needed"}


def test_composer_libraries_core_does_not_have(tmp_path: Path) -> None:
    d = ext(tmp_path)
    (d / "composer.json").write_text(json.dumps({"require": {"php": ">=7.4", "composer/installers": "*",
                                                             "ext-intl": "*", "wikimedia/css-sanitizer": "^6",
                                                             "mustangostang/spyc": "^0.6"}}))
    core = tmp_path / "core"
    (core / "vendor" / "composer").mkdir(parents=True)
    (core / "vendor" / "composer" / "installed.json").write_text(json.dumps(
        {"packages": [{"name": "wikimedia/css-sanitizer", "version": "6.1.0"}]}))
    assert missing_libraries(d, core_packages(core)) == ["mustangostang/spyc ^0.6"]
    (d / "vendor").mkdir()
    (d / "vendor" / "autoload.php").write_text("<?php")
    assert missing_libraries(d, core_packages(core)) == []


def cell(status: str, *checks: CheckResult) -> CellResult:
    return CellResult(id=f"ci-Demo@1.43-php8.4-sqlite[Demo]", bundle="ci-Demo", lock_digest="0" * 64,
                      core_line="1.43", core="1.43.0", php="8.4", db="sqlite", status=status,  # type: ignore[arg-type]
                      checks=checks)


def test_annotations_point_into_the_extension() -> None:
    log = ("PHP Warning:  Undefined array key 1 in /var/lib/mediawiki/extensions/Demo/includes/Hooks.php on line 42\n"
           "#0 /usr/share/mediawiki/includes/parser/Parser.php(3): x()")
    r = Results(cells=(cell("failed", CheckResult(name="php-errors", status="failed", message="1 warning", log=log,
                                                  blame=("Demo",)),
                            CheckResult(name="smoke:Other:x", status="failed", message="boom", blame=("Other",)),
                            CheckResult(name="update.php", status="failed", message="no file", log="",
                                        blame=("Demo",))),))
    notes = report.annotate(r, "Demo")
    assert [(n.file, n.line) for n in notes] == [("includes/Hooks.php", 42), ("extension.json", 1)]
    assert notes[0].github().startswith("::error file=includes/Hooks.php,line=42,title=php-errors (ci-Demo@1.43-")
    assert json.loads(report.codequality(notes))[0]["location"] == {"path": "includes/Hooks.php", "lines": {"begin": 42}}
    assert report.location("in /x/extensions/Demo/src/A.php(7): y", "Demo") == ("src/A.php", 7)
    md = report.markdown(r, "Demo", {"1.39": "needs-composer: a/b"})
    assert "failed on 1 of 1 cells" in md and "needs-composer: a/b" in md and "`php-errors`" in md
    assert "failing" in report.badge(r.cells) and "1.43" in report.badge([cell("passed")])
    assert "needs-composer" in report.badge([], needs_composer=True)


def test_extension_trees_become_tree_and_git_sources(tmp_path: Path) -> None:
    src = tmp_path / "src"
    rows = []
    for branch, version in (("REL1_39", "1.0.0"), ("REL1_43", "2.0.0")):
        t = ext(tmp_path / branch, "Demo", requires={"MediaWiki": f">= {branch[3:].replace('_', '.')}"})
        (t / "extension.json").write_text((t / "extension.json").read_text().replace("1.0.0", version))
        src.mkdir(exist_ok=True)
        with tarfile.open(src / f"Demo-{branch}.tar.gz", "w:gz") as tar:
            tar.add(t, arcname="Demo")
        import hashlib

        rows.append({"name": "Demo", "kind": "extension", "branch": branch, "commit": "ab" * 20,
                     "committed": "2026-01-05T07:25:08+01:00", "file": f"Demo-{branch}.tar.gz",
                     "sha256": hashlib.sha256((src / f"Demo-{branch}.tar.gz").read_bytes()).hexdigest(),
                     "repository": "https://example.org/Demo"})
    (src / "index.json").write_text(json.dumps(rows))
    assert build(src, tmp_path / "cache") == {"Demo": ["REL1_39", "REL1_43"]}
    git = tmp_path / "cache" / "extension-git" / "Demo.git"
    cands = load_catalog([f"git:{git}"]).candidates("Demo")
    assert {(c.ref, c.version) for c in cands if c.ref_type == "branch"} == {("REL1_39", "1.0.0"), ("REL1_43", "2.0.0")}
    msg = subprocess.run(["git", "--git-dir", str(git), "log", "-1", "--format=%B", "REL1_43"], capture_output=True,
                         text=True, check=True).stdout
    assert f"Upstream-Commit: {'ab' * 20}" in msg
    trees = load_catalog([f"tree:{tmp_path / 'cache' / 'extension-trees' / 'REL1_39'}"]).candidates("Demo")
    assert [c.version for c in trees] == ["1.0.0"]
    # the same archives give the same commits (reproducible), a damaged archive is refused
    first = subprocess.run(["git", "--git-dir", str(git), "rev-parse", "REL1_43"], capture_output=True, text=True).stdout
    build(src, tmp_path / "cache")
    assert subprocess.run(["git", "--git-dir", str(git), "rev-parse", "REL1_43"], capture_output=True,
                          text=True).stdout == first
    rows[0]["sha256"] = "0" * 64
    (src / "index.json").write_text(json.dumps(rows))
    with pytest.raises(IntegrityError):
        build(src, tmp_path / "other")
    assert len(read_index(src)) == 2


def test_cli_plan_only_and_config_errors(tmp_path: Path) -> None:
    d = ext(tmp_path, requires={"MediaWiki": ">= 1.43"})
    p = run_mwrelease("ci", str(d), "--plan-only", "--json", "--catalog", f"tree:{tmp_path / 'nothing'}")
    assert p.returncode == 4  # the catalog source does not exist
    (tmp_path / "empty").mkdir()
    p = run_mwrelease("ci", str(d), "--plan-only", "--json", "--catalog", f"tree:{tmp_path / 'empty'}")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)["data"]
    assert data["lines"] == ["1.43"] and [c["id"] for c in data["cells"]] == ["ci-Demo@1.43-php8.4-sqlite[Demo]"]
    (d / ".mwrelease.yaml").write_text("lines: 1.43\n")
    bad = run_mwrelease("ci", str(d), "--plan-only", "--catalog", f"tree:{tmp_path / 'empty'}")
    assert bad.returncode == 3 and ".mwrelease.yaml:1: lines" in bad.stderr
