"""The test sandbox holds against hostile extensions (issue 12, finding 8).

Each hostile fixture (tests/fixtures/extensions/MwrFixture{ForkBomb,DiskFiller,Spinner,LogFlood,Network})
attacks from update.php; each must fail its own cell with a clear reason while a well-behaved extension's
cells in the same run pass (SQLite, and MariaDB over the shared loopback), and the host keeps its disk
and processes. A tarball that tries to escape with a chain of links fails only its cell.
Small limits and deadlines keep it to a few minutes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mwrelease.lock import Lock, LockedComponent, SmokeCheck, Source
from mwrelease.runner.plan import plan
from mwrelease.runner.results import CellResult
from tests.helpers import FIXTURES
from tests.integration.helpers import need_any_image, need_images

pytestmark = pytest.mark.docker

EXTENSIONS = FIXTURES / "extensions"
BASE = "mwrelease/base:bookworm"


def _ext(name: str, *smoke: tuple[str, str, str]) -> LockedComponent:
    return LockedComponent(name=name, kind="extension", ref=None, ref_type="tree", commit=None, version="1.0.0",
                           source=Source(type="path", path=str(EXTENSIONS / name)), catalog=f"tree:{EXTENSIONS}",
                           requires={"MediaWiki": ">= 1.39.0"},
                           smoke=tuple(SmokeCheck(name=n, wikitext=w, expect=e) for n, w, e in smoke))


def _lock(bundle: str, comp: LockedComponent, dbs: tuple[str, ...] = ("sqlite",)) -> Lock:
    return Lock(bundle=bundle, flavor="fixture", core_version="1.43.0", core_line="1.43", php=(),
                databases=dbs, components=(comp,))


def _checks(result: CellResult) -> dict[str, Any]:
    return {c.name: c for c in result.checks}


def _host_processes() -> int:
    return sum(1 for p in os.listdir("/proc") if p.isdigit())


def _escaping_tarball(tmp: Path) -> LockedComponent:
    """MwrFixtureGood in a tarball that also carries a -> ., b -> a/.., c -> b/.. and c/escaped.txt."""
    import io

    path = tmp / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(EXTENSIONS / "MwrFixtureGood", arcname="MwrFixtureGood")
        for name, target in (("a", "."), ("b", "a/.."), ("c", "b/..")):
            link = tarfile.TarInfo(f"MwrFixtureGood/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        f = tarfile.TarInfo("MwrFixtureGood/c/escaped.txt")
        f.size = 3
        tar.addfile(f, io.BytesIO(b"out"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    from dataclasses import replace

    return replace(_ext("MwrFixtureGood"), source=Source(type="tarball", url=str(path), sha256=digest))


def test_hostile_extensions_fail_only_their_own_cells(engine: Any, tmp_path: Path) -> None:
    need_any_image(engine, "mwrelease/base:trixie", "mwrelease/core:1.43-debian")
    from mwrelease.runner.cell import CellOptions, run_cells

    good = _ext("MwrFixtureGood", ("good", "{{#mwrgood:x}}", "good:x"))
    locks = [_lock("good", good, ("sqlite", "mariadb")),
             *(_lock(n.removeprefix("MwrFixture").lower(), _ext(n)) for n in (
                 "MwrFixtureForkBomb", "MwrFixtureDiskFiller", "MwrFixtureSpinner", "MwrFixtureLogFlood",
                 "MwrFixtureNetwork")),
             _lock("tarball", _escaping_tarball(tmp_path))]
    cells = plan(locks, dbs=["sqlite", "mariadb"])
    cells = [c for c in cells if c.db == "sqlite" or c.bundle == "good"]
    disk_before = shutil.disk_usage(tmp_path).used
    procs_before = _host_processes()
    # update.php of a fresh wiki takes ~10 s on a loaded 2-core runner: the deadline leaves it room.
    options = CellOptions(update_timeout=40, request_timeout=30, pids_limit=128, disk_limit="64m",
                          fsize=48 << 20, workdir=tmp_path, snapshot_dir=tmp_path / "snap")
    results = run_cells(cells, engine, jobs=2, options=options)
    by = {(r.bundle, r.db): r for r in results}
    for r in results:  # shown when an assertion fails
        print(r.bundle, r.db, r.status, [(c.name, c.status, c.message) for c in r.checks if c.status != "passed"])

    # The well-behaved extension passes beside them, on SQLite and on MariaDB (shared loopback, no network).
    for db in ("sqlite", "mariadb"):
        ok = by[("good", db)]
        assert not ok.failed_required, [(c.name, c.message) for c in ok.failed_required]
        assert _checks(ok)["smoke:MwrFixtureGood:good"].status == "passed"

    def update(bundle: str) -> Any:
        check = _checks(by[(bundle, "sqlite")])["update.php"]
        assert check.status == "failed", (bundle, check.message)
        return check

    bomb = update("forkbomb")
    assert "timeout" in bomb.message and bomb.duration < 90, bomb.message
    filler = update("diskfiller")
    assert "disk full: " in filler.message and "/tmp" in filler.message, filler.message
    spinner = update("spinner")
    assert "timeout" in spinner.message and spinner.duration < 90, spinner.message
    flood = update("logflood")
    assert "file size limit" in flood.message, flood.message
    assert len(flood.log) < 200_000  # the host kept a capped excerpt, not a gigabyte
    net = update("network")
    assert "MwrFixtureNetwork: no network" in net.log and "unreachable" in net.log.lower(), net.log
    assert net.duration < 15

    # The escaping tarball fails its own cell at "place", with the reason; nothing landed outside.
    place = _checks(by[("tarball", "sqlite")])["place"]
    assert place.status == "error" and "outside" in place.message and place.blame == ("MwrFixtureGood",), place
    assert not list(tmp_path.rglob("escaped.txt"))

    # The host is unharmed: no process left behind, no disk eaten. Other tests may run beside this one
    # (pytest-xdist) and write artifacts meanwhile: loose bounds, still far below what an unbounded disk
    # filler writes in its 40 s.
    assert _host_processes() < procs_before + 50
    assert shutil.disk_usage(tmp_path).used - disk_before < 2 << 30


def test_exec_output_is_capped_and_a_stuck_exec_meets_a_host_deadline(engine: Any, monkeypatch: Any) -> None:
    need_images(engine, BASE)
    from mwrelease.runner import container as container_mod

    with engine.container(BASE) as c:
        r = c.exec("head -c 50000000 /dev/zero | tr '\\0' z", timeout=60)
        assert r.ok and r.truncated and len(r.stdout) == container_mod.MAX_OUTPUT
        assert "truncated at 1048576 bytes" in r.output
    monkeypatch.setattr(container_mod, "HOST_SLACK", 1.0)
    with engine.container(BASE) as c:
        # A frozen container (here: paused) never lets its in-container timeout fire: only the host can end it.
        import threading

        threading.Timer(1.0, lambda: engine.client.api.pause(c.id)).start()
        r = c.exec("echo started; sleep 300", timeout=2)
        assert r.killed and r.timed_out and r.duration < 30 and "killed its container" in r.output
        assert not engine.client.containers.get(c.id).attrs["State"]["Running"]


def test_the_wiki_container_runs_unprivileged_on_a_read_only_root(engine: Any) -> None:
    need_images(engine, "mwrelease/core:1.43-debian")
    from mwrelease.runner.sandbox import DEBIAN_WRITABLE, Sandbox

    box = Sandbox(writable=DEBIAN_WRITABLE, size="8m", cpus=0.5, nofile=256, fsize=4 << 20)
    with engine.container("mwrelease/core:1.43-debian", limits=box, pids_limit=64) as c:
        r = c.exec("id -u; touch /usr/share/mediawiki/x 2>&1; ulimit -n; ulimit -f; "
                   "head -c 20000000 /dev/zero > /var/lib/mwtest/big; echo rc=$?; df -P /tmp | tail -1", timeout=30)
        lines = r.output.splitlines()
        assert lines[0] == "33" and "Read-only file system" in lines[1], r.output
        assert lines[2] == "256" and lines[3] == str((4 << 20) // 512)  # sh counts 512-byte blocks, r.output
        assert "rc=153" in r.output or "File size limit" in r.output, r.output  # SIGXFSZ at 4 MiB
        c.put_files("/var/lib/mwtest", {"in.txt": b"through tar"})
        assert c.get_file("/var/lib/mwtest/in.txt") == b"through tar"
        attrs = engine.client.containers.get(c.id).attrs["HostConfig"]
        assert attrs["ReadonlyRootfs"] and attrs["NanoCpus"] == 500_000_000 and attrs["NetworkMode"] == "none"
