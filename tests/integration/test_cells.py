"""Cells on real MediaWiki in containers: the tarball bundle passes, each failure class is caught.

Needs a Docker engine and the core image of 1.43 (ci/prepare-machine.sh); skipped with the reason
otherwise. Kept small for CI: one tarball cell and four fixture cells (two at a time), about a minute
once the image exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult, Results, lock_summary
from tests.helpers import CORES, FIXTURES, REPO
from tests.integration.helpers import need_any_image

pytestmark = pytest.mark.docker

EXTENSIONS = FIXTURES / "extensions"
CORE_143 = CORES / "1.43"


@pytest.fixture(scope="module", autouse=True)
def _images(engine: Any) -> None:
    # The core image of 1.43 is built from the trixie base image when it is missing.
    need_any_image(engine, "mwrelease/base:trixie", "mwrelease/core:1.43-debian")


def fixture(name: str, *smoke: tuple[str, str, str]) -> LockedComponent:
    return LockedComponent(name=name, kind="extension", ref=None, ref_type="tree", commit=None, version="1.0.0",
                           source=Source(type="path", path=str(EXTENSIONS / name)), catalog=f"tree:{EXTENSIONS}",
                           requires={"MediaWiki": ">= 1.39.0"},
                           smoke=tuple(SmokeCheck(name=n, wikitext=w, expect=e) for n, w, e in smoke))


def fixture_lock(bundle: str, *comps: LockedComponent) -> Lock:
    return Lock(bundle=bundle, flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=("sqlite",), components=comps)


def by_name(result: CellResult) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


def test_tarball_143_on_sqlite_passes(engine: Any, tmp_path: Path) -> None:
    if not CORE_143.is_dir():
        pytest.skip("no 1.43 core tree: run ci/fetch-core-trees.sh")
    from mwrelease.bundle import load_bundle
    from mwrelease.catalog import load_catalog
    from mwrelease.resolver import Target, resolve
    from mwrelease.runner.cell import CellOptions, run_cells
    from mwrelease.runner.results import junit_xml

    spec = load_bundle(REPO / "bundles" / "tarball-1.43.yaml")
    lock = resolve(spec, load_catalog([f"core:{CORE_143}"]), Target(core="1.43.9", php=spec.php)).lock
    cells = plan(lock)
    (result,) = run_cells(cells, engine, options=CellOptions(snapshot_dir=tmp_path / "snap"))
    assert not result.failed_required, [(c.name, c.message, c.blame) for c in result.failed_required]
    checks = by_name(result)
    # Every smoke check the bundle declares ran and passed (none is known to fail: the expectation is the data).
    declared = [f"smoke:{c.name}:{s.name}" for c in lock.components for s in c.smoke]
    assert declared and all(checks[name].status == "passed" for name in declared), \
        {name: (checks[name].status, checks[name].message) if name in checks else "missing" for name in declared}
    assert checks["update.php"].status == "passed" and checks["edit-readback"].status == "passed"
    assert all(checks[f"siteinfo:{c.name}"].status == "passed" for c in lock.components)
    assert checks["load.php:VisualEditor"].status == "passed"
    assert result.mediawiki_version and result.mediawiki_version.startswith("1.43")
    import xml.etree.ElementTree as ET

    ET.fromstring(junit_xml(Results(cells=(result,), locks=(lock_summary(cells[0]),))))


def git_source(name: str, tmp: Path) -> LockedComponent:
    """The fixture as a git repository (file://) pinned to a commit: exercises the git source type."""
    import shutil
    import subprocess

    repo = tmp / f"{name}.git-work"
    shutil.copytree(EXTENSIONS / name, repo)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"}
    for cmd in (["git", "init", "-q", "-b", "REL1_43"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "fixture"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True,
                            env=env).stdout.strip()
    base = fixture(name)
    from dataclasses import replace

    return replace(base, ref="REL1_43", ref_type="branch", commit=commit,
                   source=Source(type="git", url=f"file://{repo}"))


def tarball_source(name: str, tmp: Path) -> LockedComponent:
    """The fixture as a .tar.gz with its sha256: exercises the tarball source type."""
    import hashlib
    import tarfile
    from dataclasses import replace

    path = tmp / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(EXTENSIONS / name, arcname=name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return replace(fixture(name), source=Source(type="tarball", url=str(path), sha256=digest))


def test_fixtures_each_failure_class_is_caught_and_explained(engine: Any, tmp_path: Path) -> None:
    from dataclasses import replace

    from mwrelease.runner.cell import CellOptions, run_cells
    from mwrelease.seal import seal

    control = LockedComponent(name="ParserFunctions", kind="extension", ref="REL1_43", ref_type="bundled",
                              commit=None, version=None, source=Source(type="bundled"), catalog="image",
                              requires={"MediaWiki": ">= 1.43"},
                              smoke=(SmokeCheck(name="expr", wikitext="{{#expr: 6*7}}", expect="42"),))
    locks = [
        fixture_lock("fatal", fixture("MwrFixtureFatalLoad")),
        fixture_lock("schema", fixture("MwrFixtureSchemaFail")),
        fixture_lock("hang", fixture("MwrFixtureHang")),
        fixture_lock("runtime", control,
                     fixture("MwrFixtureParserException", ("boom", "<mwrboom>x</mwrboom>", "x")),
                     replace(tarball_source("MwrFixtureWarning", tmp_path),
                             smoke=(SmokeCheck(name="quiet", wikitext="<mwrquiet>ok</mwrquiet>", expect="ok"),)),
                     replace(git_source("MwrFixtureWrongOutput", tmp_path),
                             smoke=(SmokeCheck(name="twice", wikitext="{{#mwrtwice:ab}}", expect="abab"),)),
                     fixture("MwrFixtureBrokenModule")),
    ]
    cells = plan(locks)
    results = {r.bundle: r for r in run_cells(cells, engine, jobs=2,
                                              options=CellOptions(update_timeout=20, request_timeout=30))}

    fatal = by_name(results["fatal"])["update.php"]
    assert fatal.status == "failed" and fatal.blame == ("MwrFixtureFatalLoad",)
    assert "mwrFixtureThisFunctionDoesNotExist" in fatal.log
    assert by_name(results["fatal"])["siteinfo"].status == "skipped"

    schema = by_name(results["schema"])["update.php"]
    assert schema.status == "failed" and schema.blame == ("MwrFixtureSchemaFail",)
    assert "failed on purpose" in schema.log

    hang = by_name(results["hang"])["update.php"]
    assert hang.status == "failed" and "timeout" in hang.message and hang.duration < 60
    assert "MwrFixtureHang: migrating" in hang.log

    rt = by_name(results["runtime"])
    assert "MwrFixtureWrongOutput REL1_43@" in rt["place"].message  # checked out from git at the commit
    boom = rt["smoke:MwrFixtureParserException:boom"]
    assert boom.status == "failed" and boom.blame == ("MwrFixtureParserException",)
    assert "LogicException" in boom.log and "cannot render" in boom.log
    wrong = rt["smoke:MwrFixtureWrongOutput:twice"]
    assert wrong.status == "failed" and "twice:ab" in wrong.log and wrong.blame == ("MwrFixtureWrongOutput",)
    assert rt["smoke:MwrFixtureWarning:quiet"].status == "passed"
    errors = rt["php-errors"]
    assert errors.status == "failed"
    assert set(errors.blame) == {"MwrFixtureParserException", "MwrFixtureWarning", "MwrFixtureBrokenModule"}
    assert "Undefined array key" in errors.log
    assert rt["smoke:ParserFunctions:expr"].status == "passed" and rt["edit-readback"].status == "passed"
    # load.php: the modules of every component are asked for together; the broken one is then found
    # by each component's own requests, and the module that loads is not blamed.
    broken = rt["load.php:MwrFixtureBrokenModule"]
    assert broken.status == "failed" and broken.blame == ("MwrFixtureBrokenModule",), (broken.message, broken.log)
    assert "ext.mwrBrokenModule.missing" in broken.log
    assert rt["load.php:MwrFixtureWarning"].status == "passed", rt["load.php:MwrFixtureWarning"].log
    assert rt["load.php:startup"].status == "passed"

    res = Results(cells=(results["runtime"],), locks=(lock_summary(cells[3]),))
    (s,) = seal([res])
    verdicts = {c.name: c.verdict for c in s.components}
    assert verdicts == {"ParserFunctions": "sealed", "MwrFixtureParserException": "failed",
                        "MwrFixtureWarning": "failed", "MwrFixtureWrongOutput": "failed",
                        "MwrFixtureBrokenModule": "failed"}


def test_warm_cell_reuses_resourceloader_output_and_still_finds_the_broken_module(engine: Any, tmp_path: Path) -> None:
    """The second run of a cell restores the caches the first one saved: the localisation cache and
    ResourceLoader's compiled modules (runner.rlcache). What failed fails again: only output that was
    compiled without error is kept, keyed by its source."""
    import tarfile

    from mwrelease.runner.cell import CellOptions, run_cell

    lock = fixture_lock("rl-cache", fixture("MwrFixtureWarning"), fixture("MwrFixtureBrokenModule"))
    (cell,) = plan(lock)
    options = CellOptions(snapshot_dir=tmp_path / "snap")
    cold = run_cell(cell, engine, options=options)
    (caches,) = (tmp_path / "snap").glob("caches-*.tar")
    with tarfile.open(caches) as tar:
        member = tar.extractfile("resourceloader.ser")
        assert member is not None
        dump = member.read()
    assert b"resourceloader-less" in dump and b".mwr-warning" in dump  # the compiled LESS of ext.mwrWarning
    assert b"this-file-is-missing" not in dump

    warm = run_cell(cell, engine, options=options)
    assert warm.warm and "cache-restore" in warm.timings
    for result in (cold, warm):
        checks = by_name(result)
        assert checks["load.php:MwrFixtureWarning"].status == "passed"
        assert checks["load.php:MwrFixtureBrokenModule"].status == "failed"
        assert "ext.mwrBrokenModule.missing" in checks["load.php:MwrFixtureBrokenModule"].log
