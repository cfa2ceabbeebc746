"""End to end, with real MediaWiki: a 1.35 wiki taken to 1.43 with one command, through 1.39.

MediaWiki 1.43 does not upgrade a 1.35 wiki directly, so the plan stops at 1.39 first; and 1.43 needs
PHP >= 8.1 while 1.35 runs on PHP 7.3/7.4. The admin's server is therefore the bookworm image (PHP 8.2,
and Python 3.11 for mwrelease) with Debian bullseye's PHP 7.4 installed beside it (harness.install_php74):
the 1.35.13 wiki, unpacked from its release tarball, runs on PHP 7.4; `mwrelease upgrade --php php7.4
--php php8.2` runs the 1.39 stop on PHP 7.4 and the 1.43 stop on PHP 8.2, and the reload command switches
`php -S` over through $MWRELEASE_PHP. Every release is built from Debian's packages (1.35.13 bullseye,
1.39.17 bookworm, 1.43.9 trixie).

Needs the Docker engine and the three core images (ci/prepare-machine.sh with MWRELEASE_LINES including
1.35); skipped otherwise.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

# harness is tests/fixtures/upgrade/harness.py, on sys.path through tests/integration/conftest.py.
from harness import assert_unchanged, assert_upgraded, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def chain(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Any]:
    import harness

    images = (harness.LTS_1_35_IMAGE, harness.OLD_IMAGE, harness.NEW_IMAGE)
    need_images(engine, *images, *((harness.DB_IMAGE,) if request.param == "mariadb" else ()),
                hint="run ci/prepare-machine.sh with MWRELEASE_LINES='1.35 1.39 1.43'")
    channel, (first_v, mid_v, new_v) = harness.build_channel(engine, images)
    wheelhouse = harness.build_wheelhouse()
    for server in harness.admin_server(engine, wheelhouse, channel, first_v, new_v, php74=True, db=request.param):
        server.mid_v = mid_v
        yield server


def _upgrade(s: Any, *php: str, env: dict[str, str] | None = None) -> Any:
    return s.mwrelease("upgrade", "--allow-unsigned", "--wiki", "/var/www/wiki", "--channel", "/srv/channel", "--line", "1.43", "--yes",
                       "--json", "--reload-command", "mwr-restart-server", *(a for p in php for a in ("--php", p)),
                       env=env)


def test_chain_1_35_to_1_43_through_1_39_with_a_php_switch(chain: Any) -> None:
    s = chain
    s.reset()
    before = s.snapshot()
    print(f"\n{s.db.kind if s.db else 'SQLite'}: {s.old_v} -> {s.mid_v} -> {s.new_v}")
    assert before["version"] == s.old_v and before["version"].startswith("1.35.")
    assert "MwrTestKeep" in before["extensions"] and "Alice" in before["users"] and "Mwr-test-1.png" in before["files"]
    assert all("MWRKEEP-OK" in m and "PF-OK" in m for t, m in before["rendered"].items() if t.startswith("Test page"))

    # PHP 7.4 alone cannot run 1.43: refused before anything changes, naming the intermediate release.
    r = _upgrade(s, "php7.4")
    assert r.exit_code == 3, r.output[-3000:]
    err = envelope(r)["errors"][0]
    assert "needs PHP" in err["message"] and f"--to {s.mid_v}" in err["hint"], err
    assert_unchanged(s, before)

    # With PHP 8.2 beside it: one command, two stops.
    r = _upgrade(s, "php7.4", "php8.2")
    env = envelope(r)
    assert r.exit_code == 0, r.output[-5000:]
    plan = env["data"]["plan"]
    assert [(x["version"], x["php"]) for x in plan["stops"]] == [(s.mid_v, "php7.4"), (s.new_v, "php8.2")]
    for stop in env["data"]["stops"]:
        print(f"\nstop {stop['version']}: read-only {stop['read_only_seconds']} s, total {stop['total_seconds']} s, "
              f"update.php {stop['update_seconds']} s")
    assert [x["version"] for x in env["data"]["stops"]] == [s.mid_v, s.new_v]
    for stop in env["data"]["stops"]:  # each stop's update.php ran its own version's updater to the end
        log = s.sh(f"cat /var/lib/mwrelease/*/logs/{stop['journal_id']}.log").stdout
        print(log[-1500:])
        assert f"MediaWiki {stop['version']} Updater" in log and "Done in" in log, log[-3000:]
    assert_upgraded(s, before)
    assert s.sh("cat /run/wiki-php").stdout.strip() == "php8.2"  # the web server was switched over
    assert "php8.2" in s.sh("tr '\\0' ' ' < /proc/$(cat /run/wiki-server.pid)/cmdline").stdout
    rendered = s.sh("curl -s 'http://127.0.0.1:8080/api.php?action=parse&format=json&text=%3Cmwrkeep/%3E'").stdout
    assert f"MWRKEEP-OK-{s.new_v}" in rendered

    # prune frees the first stop's old 1.35 tree, backup and the downloads, and keeps what rollback needs.
    pr = envelope(s.mwrelease("prune", "--wiki", "/var/www/wiki", "--json", "--yes"))
    assert pr["exit_code"] == 0, pr
    print(f"prune freed {pr['data']['bytes_freed'] / 1e6:.0f} MB")
    left = s.sh("ls /var/www").stdout.split()
    assert not any(f"old-{s.old_v}" in f for f in left) and any(f"old-{s.mid_v}" in f for f in left), left
    # Rolling back the last stop returns to 1.39 on PHP 7.4 with its data.
    rb = s.rollback()
    assert rb.exit_code == 0, rb.output[-3000:]
    assert_upgraded(s, before, s.mid_v)
    assert s.sh("cat /run/wiki-php").stdout.strip() == "php7.4"


def test_killed_in_the_second_stop_the_next_run_finishes_the_chain(chain: Any) -> None:
    s = chain
    s.reset()
    before = s.snapshot()
    r = _upgrade(s, "php7.4", "php8.2", env={"MWRELEASE_FAULT_KILL_AT": f"update@{s.new_v}"})
    assert r.exit_code in (137, -9), r.output[-3000:]  # SIGKILL while 1.43's update.php runs: no cleanup ran
    # The first stop is done: the wiki is on 1.39, read-only, with the interrupted stop in the journal.
    assert s.sh("test -f /var/lib/mwrelease/*/journal.json", check=False).exit_code == 0
    # (Not read over HTTP: the orphaned update.php of 1.43 may still be changing the schema under 1.39.)
    st = envelope(s.mwrelease("status", "--wiki", "/var/www/wiki", "--json", "--php", "php7.4"))
    assert st["data"]["installation"]["core_version"] == s.mid_v
    assert (st["data"]["interrupted_upgrade"]["from"], st["data"]["interrupted_upgrade"]["to"]) == (s.mid_v, s.new_v)
    # The next run rolls the interrupted stop back (to 1.39 on PHP 7.4) and goes on from there.
    r = _upgrade(s, "php7.4", "php8.2")
    env = envelope(r)
    assert r.exit_code == 0, r.output[-5000:]
    assert env["data"]["recovered"]["stopped_at"] == "update"
    assert [x["version"] for x in env["data"]["stops"]] == [s.new_v]
    assert_upgraded(s, before)
    assert s.sh("cat /run/wiki-php").stdout.strip() == "php8.2"
