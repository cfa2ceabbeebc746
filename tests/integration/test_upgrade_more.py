"""More end-to-end upgrade evidence in real containers (the harness of test_upgrade_e2e.py):

1. A minor upgrade within a line with the DELTA artifact. No Debian line has two real releases here, so
   1.43.10 is SYNTHETIC: made from the real 1.43.9 release tree with one core file and one bundled
   extension file changed (an extra PHP comment), one core file removed and MW_VERSION set to "1.43.10"
   (tests/fixtures/upgrade/minor.py). A 1.43.9 wiki installed from the tarball (served by the bookworm
   image's PHP 8.2) is upgraded with `--to 1.43.10` and must download only the delta; a tampered delta is
   refused with exit 8 first, leaving the wiki on 1.43.9.
2. The 1.39 -> 1.43 upgrade on PostgreSQL (database container sharing the admin container's loopback),
   after update.php failing (the fixture extension) has been undone from pg_dump; then a rollback.
3. The disk filling up in the middle of an upgrade (after the free-space check passed): /var/www is a
   filesystem of its own, and the admin's reload command fills it the moment the wiki goes read-only.

Needs the Docker engine and the core and database images (ci/prepare-machine.sh); skipped otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest

# harness is tests/fixtures/upgrade/harness.py, on sys.path through tests/integration/conftest.py.
from harness import assert_unchanged, assert_upgraded, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FAIL_SETTINGS = "wfLoadExtension( 'MwrTestFailUpdate' );"
FAIL_EXT = "/srv/fixtures/extensions/MwrTestFailUpdate"


# --- 1. minor upgrade 1.43.9 -> 1.43.10 (synthetic) with the delta artifact ----------------------

@pytest.fixture(scope="module")
def minor(engine: Engine) -> Iterator[Any]:
    import harness
    from minor import NEW, OLD, build_minor_channel

    need_images(engine, harness.OLD_IMAGE, harness.NEW_IMAGE)
    base_channel, _, new_v = harness.build_artifacts(engine)
    assert new_v == OLD, f"the synthetic point release is made from {OLD}, the 1.43 image has {new_v}"
    channel = build_minor_channel(base_channel)
    wheelhouse = harness.build_wheelhouse()
    # The admin's server is the bookworm (1.39) core image: its PHP 8.2 runs 1.43 too.
    yield from harness.admin_server(engine, wheelhouse, channel, OLD, NEW)


def _sha256s(server: Any, paths: list[str]) -> dict[str, str]:
    out = server.sh("cd /var/www/wiki && sha256sum " + " ".join(paths)).stdout
    return {p: h for h, p in (ln.split(None, 1) for ln in out.splitlines())}


def test_minor_upgrade_uses_the_delta_and_a_tampered_delta_is_refused(minor: Any) -> None:
    from minor import CHANGED_CORE, CHANGED_EXT, NEW, OLD, REMOVED

    s = minor
    s.reset()
    before = s.snapshot()
    assert before["version"] == OLD and "MwrTestKeep" in before["extensions"]
    assert all("MWRKEEP-OK" in m and "PF-OK" in m for t, m in before["rendered"].items() if t.startswith("Test page"))
    index = json.loads(s.sh("cat /srv/channel/index.json").stdout)
    rel = next(r for r in index["lines"]["1.43-lts"]["releases"] if r["version"] == NEW)
    full = next(a for a in rel["artifacts"] if a["kind"] == "full")
    delta = next(a for a in rel["artifacts"] if a["kind"] == "delta")
    assert delta["from"] == OLD

    def upgrade(channel: str) -> Any:
        return s.mwrelease("upgrade", "--allow-unsigned", "--wiki", "/var/www/wiki", "--channel", channel, "--to", NEW, "--yes", "--json",
                           "--reload-command", "mwr-restart-server")

    # A tampered delta (one byte changed, index unchanged): refused before anything changes.
    bad = "/srv/channel-tampered-delta"
    s.sh(f"rm -rf {bad} && cp -a /srv/channel {bad} && printf 'X' | dd of={bad}/{delta['file']} bs=1 "
         f"seek={delta['size'] // 2} conv=notrunc status=none")
    r = upgrade(bad)
    assert r.exit_code == 8, r.output[-3000:]
    err = envelope(r)["errors"][0]["message"]
    assert "tampered" in err and delta["file"] in err, err
    assert_unchanged(s, before)

    # The upgrade: the plan picks the delta, only the delta is downloaded.
    r = upgrade("/srv/channel")
    env = envelope(r)
    assert r.exit_code == 0, r.output[-4000:]
    stop_plan = env["data"]["plan"]["stops"]
    assert [{k: x[k] for k in ("version", "line", "artifact", "delta_from")} for x in stop_plan] == [
        {"version": NEW, "line": "1.43", "artifact": delta["file"], "delta_from": OLD}], stop_plan
    stop = env["data"]["stops"][0]
    assert stop["health"]["ok"], stop["health"]
    history = json.loads(s.sh("cat /var/lib/mwrelease/*/history.json").stdout)["entries"]
    last = history[-1]
    assert last["state"] == "done" and last["to"] == NEW
    dl = next(st for st in last["steps"] if st["name"] == "download")
    assert delta["file"] in dl["detail"] and full["file"] not in dl["detail"], dl
    downloaded = s.sh("ls /var/lib/mwrelease/*/downloads").stdout.split()
    assert full["file"] not in downloaded, downloaded
    print(f"\nminor upgrade {OLD} -> {NEW} with the delta: {delta['size']} bytes downloaded instead of "
          f"{full['size']} ({full['size'] / delta['size']:.0f}x less); read-only {stop['read_only_seconds']} s, "
          f"total {stop['total_seconds']} s, update.php {stop['update_seconds']} s")

    # The tree is 1.43.10's: changed files as released, the removed file gone, every file verified.
    manifest = json.loads(s.sh(f"cat /srv/channel/mediawiki-{NEW}.manifest.json").stdout)
    want = {f["path"]: f.get("sha256") for f in manifest["files"]}
    changed = [CHANGED_CORE, CHANGED_EXT, "includes/Defines.php"]
    assert _sha256s(s, changed) == {p: want[p] for p in changed}
    assert s.sh(f"grep -c 'mwrelease synthetic point release' /var/www/wiki/{CHANGED_CORE}").stdout.strip() == "1"
    assert s.sh(f"test -e /var/www/wiki/{REMOVED}", check=False).exit_code != 0, f"{REMOVED} was carried over"
    assert s.sh("test -d /var/www/wiki/extensions/MwrTestKeep", check=False).exit_code == 0
    st = envelope(s.mwrelease("status", "--wiki", "/var/www/wiki", "--json"))
    assert st["data"]["installation"]["core_version"] == NEW
    assert st["data"]["installation"]["local_changes"] == []  # the tree verifies against 1.43.10's manifest

    assert_upgraded(s, before, NEW)


# --- 2. PostgreSQL: 1.39 -> 1.43, and update.php failing (restored from pg_dump) -----------------

@pytest.fixture(scope="module")
def pg(engine: Engine) -> Iterator[Any]:
    import harness

    need_images(engine, harness.OLD_IMAGE, harness.NEW_IMAGE, harness.PG_IMAGE)
    channel, old_v, new_v = harness.build_artifacts(engine)
    wheelhouse = harness.build_wheelhouse()
    yield from harness.admin_server(engine, wheelhouse, channel, old_v, new_v, db="postgres")


def _pg_tables(s: Any) -> list[str]:
    sql = ("SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN "
           "('pg_catalog', 'information_schema') ORDER BY 1")
    out = s.sh(f"{s._pg('psql')} -d wiki -tAc {json.dumps(sql)}").stdout
    return out.split()


def test_postgres_upgrade_and_update_failure(pg: Any) -> None:
    pg.reset()
    before = pg.snapshot()
    assert before["version"] == pg.old_v and "Alice" in before["users"] and "Mwr-test-1.png" in before["files"]
    assert "MwrTestKeep" in before["extensions"]
    assert sum(len(r) for r in before["pages"].values()) >= 9
    pristine_tables = _pg_tables(pg)

    # update.php fails (after core's own schema changes ran): everything comes back from pg_dump.
    pg.reset(extra_settings=FAIL_SETTINGS, extension=FAIL_EXT)
    before_fail = pg.snapshot()
    tables = _pg_tables(pg)
    r = pg.upgrade()
    assert r.exit_code == 9, r.output[-3000:]
    err = envelope(r)["errors"][0]
    assert "restored" in err["message"], err
    assert any("schema update failed on purpose" in d for d in err["details"]), r.output[-5000:]
    assert_unchanged(pg, before_fail)
    assert _pg_tables(pg) == tables, "tables created by the failed update.php were left behind"

    # The same upgrade without the failing extension.
    pg.reset()
    r = pg.upgrade()
    assert r.exit_code == 0, r.output[-4000:]
    stop = envelope(r)["data"]["stops"][0]
    print(f"\nPostgreSQL upgrade {pg.old_v} -> {pg.new_v}: read-only {stop['read_only_seconds']} s, total "
          f"{stop['total_seconds']} s, update.php {stop['update_seconds']} s")
    assert_upgraded(pg, before)
    # Rollback restores 1.39's dump over 1.43's schema (its new tables included).
    rb = pg.rollback()
    assert rb.exit_code == 0, rb.output[-3000:]
    assert_unchanged(pg, before)
    assert _pg_tables(pg) == pristine_tables


# --- 3. the disk fills up mid-upgrade -------------------------------------------------------------

STEPS = ["download", "unpack", "readonly", "backup", "stage", "update", "switch", "health", "live"]

# Run by the reload command: at its Nth call after the test arms it (N in /srv/fill-armed), take every free
# byte of /var/www's filesystem, as a log file or another site on the same disk would.
FILL_DISK = """#!/bin/sh
[ -f /srv/fill-armed ] || exit 0
n=$(($(cat /srv/fill-armed) - 1))
if [ "$n" -gt 0 ]; then echo "$n" > /srv/fill-armed; exit 0; fi
rm -f /srv/fill-armed
avail=$(df --output=avail -B1 /var/www | tail -1)
fallocate -l "$avail" /var/www/zz-filler 2>/dev/null || true
mkdir -p /var/www/zz-filler.d  # then every last page
i=0; while dd if=/dev/zero of=/var/www/zz-filler.d/$i bs=4096 count=1 status=none 2>/dev/null; do i=$((i+1)); done
df --output=avail -B1 /var/www | tail -1 > /srv/fill-free
exit 0
"""


@pytest.fixture(scope="module")
def small_disk(engine: Engine) -> Iterator[Any]:
    import harness

    need_images(engine, harness.OLD_IMAGE, harness.NEW_IMAGE)
    channel, old_v, new_v = harness.build_artifacts(engine)
    wheelhouse = harness.build_wheelhouse()
    # 1.39's tree takes ~0.3 GB, 1.43's ~0.35 GB, its tarball 71 MB: 1.1 GB passes the free-space check.
    yield from harness.admin_server(engine, wheelhouse, channel, old_v, new_v, www_disk_mb=1100)


# The reload command runs when the wiki goes read-only (1st call) and after the switch (2nd): full there,
# the undo must also restore the database (update.php has run) on a full disk.
@pytest.mark.parametrize("when,call", [("readonly", 1), ("switch", 2)])
def test_disk_filling_up_mid_upgrade_restores_the_wiki(small_disk: Any, when: str, call: int) -> None:
    s = small_disk
    s.reset()
    before = s.snapshot()
    s.c.put_files("/usr/local/bin", {"mwr-fill-disk": FILL_DISK.encode()}, mode=0o755)
    s.sh(f"echo {call} > /srv/fill-armed && rm -f /srv/fill-free")
    r = s.mwrelease("upgrade", "--allow-unsigned", "--wiki", "/var/www/wiki", "--channel", "/srv/channel", "--line", "1.43", "--yes",
                    "--json", "--reload-command", "mwr-restart-server && mwr-fill-disk")
    assert s.sh("cat /srv/fill-free", check=False).stdout.strip() == "0", "the disk was never filled"
    assert r.exit_code == 9, r.output[-4000:]
    err = envelope(r)["errors"][0]
    assert "disk filled up" in err["message"] and "restored to MediaWiki" in err["message"], err
    # The step that failed is the first to write on the full disk at or after the fill (the state directory is
    # on another filesystem, so filling at 'readonly' fails the backup, which reads the database beside it).
    failed = re.search(r"during step '([^']+)'", err["message"])
    assert failed and STEPS.index(failed[1]) >= STEPS.index(when), err
    assert "mwrelease prune" in err["hint"], err
    # Nothing of the new tree is left; the admin frees the space and the wiki is as it was.
    assert s.sh("ls /var/www").stdout.split() == ["data", "wiki", "zz-filler", "zz-filler.d"]
    print(f"\ndisk full at {when}: {err['message']}")
    s.sh("rm -r /var/www/zz-filler /var/www/zz-filler.d")
    assert_unchanged(s, before)
    if when == "switch":  # with the space back, the same command upgrades
        r = s.upgrade()
        assert r.exit_code == 0, r.output[-4000:]
        assert_upgraded(s, before)
