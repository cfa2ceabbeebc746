"""Progress without a terminal (CI logs): a line per finished cell, build phase and image, each with the
elapsed time, on stderr only. The clock is faked so the figures are exact; the engine is faked for
`test` and `images build`, `release build` runs for real on a small core tree."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mwrelease.cli import cli, progress
from mwrelease.cli.progress import BuildSteps, Progress, elapsed
from mwrelease.lock import LockedComponent, Source
from mwrelease.runner.plan import Cell
from mwrelease.runner.results import CellResult, CheckResult
from tests.unit.helpers import make_core, make_lock, make_seal_lock

LINE = re.compile(r"^\[ *(\d+)/(\d+) +(\d+\.\d)s\] (.*)$")


class FakeClock:
    """Each reading is ``step`` seconds after the previous one (thread-safe: cells may finish in threads)."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.lock = -step, step, threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.now += self.step
            return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(1.5)
    monkeypatch.setattr(progress, "monotonic", fake)
    monkeypatch.setattr(progress, "HEARTBEAT", 0.0)  # a heartbeat would read the clock at its own pace
    return fake


def parsed(stderr: str) -> list[tuple[int, int, float, str]]:
    out = []
    for line in stderr.splitlines():
        m = LINE.match(line)
        assert m, f"not a progress line: {line!r}"
        out.append((int(m[1]), int(m[2]), float(m[3]), m[4]))
    return out


def test_elapsed_reads_well_at_every_scale() -> None:
    assert [elapsed(s) for s in (0, 41.24, 599.9, 600, 723, 3600 + 5 * 60 + 9)] == \
        ["0.0s", "41.2s", "599.9s", "10m00s", "12m03s", "1h05m"]


def test_release_build_reports_each_phase_in_order_with_elapsed_time(tmp_path: Path, clock: FakeClock) -> None:
    old, new = tmp_path / "l-old.lock", tmp_path / "l-new.lock"
    ext = tmp_path / "MyExt"
    ext.mkdir()
    (ext / "extension.json").write_text(json.dumps({"name": "MyExt", "version": "2.0"}))
    myext = LockedComponent(name="MyExt", kind="extension", ref="v2", ref_type="tag", commit=None, version="2.0",
                            source=Source(type="path", path=str(ext)), catalog="test")
    make_lock("1.43.4").dump(old)
    make_lock("1.43.5", (myext,)).dump(new)
    runner = CliRunner()
    r = runner.invoke(cli, ["release", "build", str(old), "--core-tree", str(make_core(tmp_path / "c4", "1.43.4")),
                            "--out-dir", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["release", "build", str(new), "--core-tree", str(make_core(tmp_path / "c5", "1.43.5")),
                            "--out-dir", str(tmp_path / "out"), "--previous",
                            str(tmp_path / "out" / "mediawiki-1.43.4.manifest.json"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["data"]["artifacts"][1]["kind"] == "delta"  # stdout is the JSON document only
    lines = parsed(r.stderr)
    assert lines[0][:3] == (0, 7, 1.5) and lines[0][3].startswith("building MediaWiki 1.43.5 from ")
    assert lines[2] == (1, 7, 4.5, "extension MyExt v2 put in place")  # a note inside the components phase
    del lines[2]
    # One clock reading per line, 1.5 s apart: the first phase took two readings (the note's and its own).
    assert [(n, total, t) for n, total, t, _ in lines[1:]] == [(1, 7, 3.0)] + [(i, 7, 1.5 * (i + 2))
                                                                              for i in range(2, 8)]
    phases = [text.split(":")[0] for *_, text in lines[1:]]
    assert phases == ["core", "components", "hash", "compress", "manifest", "delta", "checksums"]
    texts = [text for *_, text in lines[1:]]
    # Each phase's own time: the first took two readings (the note's and its own), components three (its note).
    assert texts[0].endswith("(3.0s)") and texts[1].endswith("(3.0s)")
    assert all(t.endswith("(1.5s)") for t in texts[2:])
    assert "mediawiki-1.43.5.tar.gz" in texts[3] and "MB" in texts[3] and "files" in texts[2]


def _fake_engine(monkeypatch: pytest.MonkeyPatch, *, fail: str = "mariadb", seconds: float = 0.0) -> list[str]:
    """Engine.connect, image builds and cells faked; returns the order the fake cells ran in."""
    from mwrelease.runner import cell as cell_mod
    from mwrelease.runner import engine, session

    ran: list[str] = []

    def prepare_images(cells: list[Cell], eng: object, *, on_line: Callable[[str], None] | None = None) -> dict[str, float]:
        assert on_line is not None
        for line in ("Step 1/2 : FROM mwrelease/base:bookworm", "Get:1 http://deb.debian.org bookworm InRelease",
                     "Step 2/2 : RUN apt-get install -y php", "Unpacking php8.2-cli (8.2.29-1) ..."):
            on_line(line)
        return {}

    def run_cell(c: Cell, eng: object, *, options: object, on_step: object = None) -> CellResult:
        time.sleep(seconds)
        ran.append(c.db)
        bad = c.db == fail
        checks = [CheckResult(name="update.php", status="passed"),
                  CheckResult(name="siteinfo:Poem", status="failed" if bad else "passed", component="Poem")]
        return CellResult.for_cell(c, checks, duration=12.0)

    monkeypatch.setattr(engine.Engine, "connect", classmethod(lambda cls: object()))
    monkeypatch.setattr(session, "prepare_images", prepare_images)
    monkeypatch.setattr(cell_mod, "run_cell", run_cell)
    return ran


def test_test_prints_a_line_per_finished_cell_with_elapsed_time(tmp_path: Path, clock: FakeClock,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_engine(monkeypatch)
    lock = tmp_path / "b.lock"
    make_seal_lock(("sqlite", "mariadb", "postgres")).dump(lock)
    r = CliRunner().invoke(cli, ["test", str(lock), "--db", "sqlite,mariadb,postgres", "--json"])
    assert r.exit_code == 7, r.output
    assert json.loads(r.stdout)["command"] == "test"  # progress stays off stdout
    assert r.stderr.splitlines() == [
        "[0/3    1.5s] preparing images for 3 cell(s)...",
        "[0/3    3.0s] image: Step 1/2 : FROM mwrelease/base:bookworm",
        "[0/3    4.5s] image: Step 2/2 : RUN apt-get install -y php",
        "[1/3    6.0s] cell b@1.43-php8.4-sqlite: passed (12.0s)",
        "[2/3    7.5s] cell b@1.43-php8.4-mariadb: failed (12.0s)  siteinfo:Poem",
        "[3/3    9.0s] cell b@1.43-php8.4-postgres: passed (12.0s)",
    ]


def test_test_with_jobs_counts_cells_as_they_finish(tmp_path: Path, clock: FakeClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_engine(monkeypatch, seconds=0.05)
    lock = tmp_path / "b.lock"
    make_seal_lock(("sqlite", "mariadb")).dump(lock)
    r = CliRunner().invoke(cli, ["test", str(lock), "--core", "1.39,1.43", "--db", "sqlite,mariadb", "--jobs", "3"])
    assert r.exit_code == 7, r.output
    cells = [(n, total, t, text) for n, total, t, text in parsed(r.stderr) if text.startswith("cell ")]
    # Whatever order the threads finish in, the count rises by one per line and the clock never goes back.
    assert [(n, total) for n, total, *_ in cells] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [t for _, _, t, _ in cells] == sorted(t for _, _, t, _ in cells)
    assert sorted(text.split(":")[0] for *_, text in cells) == [
        "cell b@1.39-php8.2-mariadb", "cell b@1.39-php8.2-sqlite", "cell b@1.43-php8.4-mariadb",
        "cell b@1.43-php8.4-sqlite"]
    assert r.stdout.rstrip().endswith("2 passed, 2 failed, 0 error, 0 skipped")


def test_images_build_streams_each_step_as_it_happens(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from mwrelease.runner import engine
    from mwrelease.runner import images as im

    def ensure_image(eng: object, recipe: im.Recipe, *, force: bool = False,
                     on_line: Callable[[str], None] | None = None) -> im.BuiltImage:
        assert on_line is not None
        for n in (1, 2, 3):
            on_line(f"Step {n}/3 : RUN step {n} of {recipe.alias}")
            on_line(f"output of step {n}")
        return im.BuiltImage(tag=f"{recipe.alias}-0123456789abcdef", alias=recipe.alias, id="sha256:1",
                             recipe=recipe.name, labels={}, cached=False, seconds=600.0)

    monkeypatch.setattr(engine.Engine, "connect", classmethod(lambda cls: object()))
    monkeypatch.setattr(im, "ensure_image", ensure_image)
    r = CliRunner().invoke(cli, ["images", "build", "--line", "1.39,1.43", "--base-source", "registry", "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["data"]["images"]) == 2
    lines = parsed(r.stderr)
    assert [t for _, _, t, _ in lines] == [1.5 * i for i in range(1, 11)]
    ra, rb = (im.debian_package_recipe(v, source="registry") for v in ("1.39", "1.43"))
    a, b = ra.alias, rb.alias
    assert [(n, text) for n, _, _, text in lines] == [
        (0, f"==> {a} (debian-package, base {ra.base})"),
        (0, f"{a}: Step 1/3 : RUN step 1 of {a}"), (0, f"{a}: Step 2/3 : RUN step 2 of {a}"),
        (0, f"{a}: Step 3/3 : RUN step 3 of {a}"),
        (1, f"built {a}-0123456789abcdef (10m00s)"),
        (1, f"==> {b} (debian-package, base {rb.base})"),
        (1, f"{b}: Step 1/3 : RUN step 1 of {b}"), (1, f"{b}: Step 2/3 : RUN step 2 of {b}"),
        (1, f"{b}: Step 3/3 : RUN step 3 of {b}"),
        (2, f"built {b}-0123456789abcdef (10m00s)"),
    ]


def test_verbose_image_build_shows_every_line(capsys: pytest.CaptureFixture[str], clock: FakeClock) -> None:
    with Progress("images", 1) as p:
        steps = BuildSteps(p, "core-1.43", verbose=True)
        steps("Step 1/2 : FROM x")
        steps("Reading package lists...")
    assert [text for *_, text in parsed(capsys.readouterr().err)] == ["core-1.43: Step 1/2 : FROM x",
                                                                       "    Reading package lists..."]


@pytest.fixture
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    now = [0.0]
    monkeypatch.setattr(progress, "monotonic", lambda: now[0])
    yield now


def test_heartbeat_names_the_step_and_its_last_output_when_quiet(capsys: pytest.CaptureFixture[str],
                                                                   manual_clock: list[float]) -> None:
    p = Progress("images", 2, heartbeat=60)  # not entered: no thread, beats by hand
    steps = BuildSteps(p, "core-1.43")
    steps("Step 3/13 : RUN sh /usr/local/share/mwrelease/apt-install.sh mediawiki php")
    steps("Unpacking php8.2-cli (8.2.29-1) ...")
    manual_clock[0] = 59.0
    assert not p.beat()
    manual_clock[0] = 61.0
    assert p.beat()
    manual_clock[0] = 100.0
    assert not p.beat()  # the heartbeat line itself counts as a line
    manual_clock[0] = 121.5
    assert p.beat()
    lines = capsys.readouterr().err.splitlines()
    assert lines[1:] == [
        "[0/2   61.0s] still working: core-1.43 Step 3/13 (nothing new for 61.0s; "
        "last output: Unpacking php8.2-cli (8.2.29-1) ...)",
        "[0/2  121.5s] still working: core-1.43 Step 3/13 (nothing new for 121.5s; "
        "last output: Unpacking php8.2-cli (8.2.29-1) ...)"]


def test_heartbeat_thread_speaks_during_a_silent_unit(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("cells", 1, heartbeat=0.05) as p:
        p.doing("1 cell(s), 1 at a time")
        time.sleep(0.4)
        p.done("cell x: passed")
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].endswith("cell x: passed") and lines[0].startswith("[0/1")
    assert len(lines) >= 2 and all("still working: 1 cell(s), 1 at a time" in ln for ln in lines[:-1])


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str], manual_clock: list[float]) -> None:
    with Progress("cells", 1, quiet=True, heartbeat=1) as p:
        p.note("preparing")
        manual_clock[0] = 10
        assert not p.beat()
        p.done("cell x: passed")
    assert capsys.readouterr().err == ""


def test_on_a_terminal_lines_go_above_the_bar(capsys: pytest.CaptureFixture[str], clock: FakeClock) -> None:
    # capsys is no terminal, so click draws no bar here; the lines must still come out, once each, in order.
    with Progress("cells", 2, tty=True) as p:
        p.done("cell a: passed")
        p.done("cell b: failed")
    err: Any = capsys.readouterr().err
    assert [ln.replace("\r\033[K", "") for ln in err.splitlines() if "cell " in ln] == [
        "[1/2    1.5s] cell a: passed", "[2/2    3.0s] cell b: failed"]
