"""End to end, with real MediaWiki: a 1.39 wiki on an admin's server upgraded to a 1.43 release with one
command, and faults that must each leave the wiki working on 1.39 with all its data.

Needs the Docker engine and the core images (ci/prepare-machine.sh); skipped otherwise. Takes several
minutes: every scenario is a real upgrade attempt (27,000 files unpacked and verified, update.php).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

# harness is tests/fixtures/upgrade/harness.py, on sys.path through tests/integration/conftest.py.
from harness import assert_unchanged, assert_upgraded, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import admin_server, pristine_snapshot

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[Any]:
    yield from admin_server(engine, "sqlite")


@pytest.fixture(scope="module")
def pristine(server: Any) -> dict[str, Any]:
    return pristine_snapshot(server)


def test_upgrade_1_39_to_1_43_keeps_everything(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    r = server.upgrade()
    env = envelope(r)
    assert r.exit_code == 0, r.output[-4000:]
    stop = env["data"]["stops"][0]
    print(f"\nupgrade {server.old_v} -> {server.new_v}: read-only {stop['read_only_seconds']} s, total "
          f"{stop['total_seconds']} s, update.php {stop['update_seconds']} s")
    fates = {e["name"]: e["fate"] for e in env["data"]["plan"]["extensions"]}
    assert fates["MwrTestKeep"] == "kept" and fates["Cite"] == "bundled"
    after = server.snapshot()
    assert after["version"] == server.new_v
    assert not after["readonly"]
    assert after["pages"] == pristine["pages"]  # every page with every revision id
    assert after["users"] == pristine["users"]
    assert after["files"] == pristine["files"]  # same sha1, and the web server serves the same bytes
    assert "MwrTestKeep" in after["extensions"]
    for title, markers in pristine["rendered"].items():
        assert after["rendered"][title] == markers, title
    rendered = server.sh("curl -s 'http://127.0.0.1:8080/api.php?action=parse&format=json&text=%3Cmwrkeep/%3E'").stdout
    assert f"MWRKEEP-OK-{server.new_v}" in rendered  # the kept extension runs on the new core
    # status knows the upgrade and the backup; rollback brings back 1.39 with its data.
    st = envelope(server.mwrelease("status", "--wiki", "/var/www/wiki", "--channel", "/srv/channel", "--allow-unsigned", "--json"))
    assert st["data"]["installation"]["core_version"] == server.new_v
    assert st["data"]["history"][-1]["state"] == "done" and st["data"]["backups"]
    assert st["data"]["channel"]["update_available"] is False
    rb = server.rollback()
    assert rb.exit_code == 0, rb.output[-3000:]
    assert_unchanged(server, pristine)


def test_update_php_failure_restores_old_version(server: Any) -> None:
    server.reset(extra_settings="wfLoadExtension( 'MwrTestFailUpdate' );",
                 extension="/srv/fixtures/extensions/MwrTestFailUpdate")
    before = server.snapshot()
    r = server.upgrade()
    env = envelope(r)
    assert r.exit_code == 9, r.output[-3000:]
    err = env["errors"][0]
    assert "update" in err["message"] and "restored" in err["message"]
    assert any("schema update failed on purpose" in d for d in err["details"]), err["details"]
    assert_unchanged(server, before)


def test_tampered_artifact_is_refused(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    r = server.upgrade(channel=server.make_channel_variant("channel-tampered", tamper=True))
    assert r.exit_code == 8, r.output[-3000:]
    assert "tampered" in envelope(r)["errors"][0]["message"]
    assert_unchanged(server, pristine)


@pytest.mark.parametrize("kind,why", [("evil", "'..'"), ("evil_link", "symlink pointing outside")])
def test_tarball_writing_outside_is_refused(server: Any, pristine: dict[str, Any], kind: str, why: str) -> None:
    server.reset()
    r = server.upgrade(channel=server.make_channel_variant(f"channel-{kind}", **{kind: True}))
    assert r.exit_code == 8, r.output[-3000:]
    assert why in envelope(r)["errors"][0]["message"]
    assert server.sh("test -e /tmp/evil.php", check=False).exit_code != 0
    assert_unchanged(server, pristine)


def test_unreachable_channel_changes_nothing(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    r = server.upgrade(channel="http://127.0.0.1:9/")
    assert r.exit_code == 4, r.output[-3000:]
    assert_unchanged(server, pristine)


def test_full_disk_is_refused(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    r = server.upgrade("--state-dir", "/mnt/tiny")  # a 32 MB tmpfs: the download alone is 71 MB
    assert r.exit_code == 9, r.output[-3000:]
    assert "Not enough disk space" in envelope(r)["errors"][0]["message"]
    assert_unchanged(server, pristine)


# --- MariaDB: the same upgrade, and update.php failing (restore from mariadb-dump) ----------------

@pytest.fixture(scope="module")
def maria(engine: Engine) -> Iterator[Any]:
    yield from admin_server(engine, "mariadb")


def test_mariadb_upgrade_and_update_failure(maria: Any) -> None:
    maria.reset()
    before = maria.snapshot()
    assert before["version"] == maria.old_v
    maria.reset(extra_settings="wfLoadExtension( 'MwrTestFailUpdate' );",
                extension="/srv/fixtures/extensions/MwrTestFailUpdate")
    before_fail = maria.snapshot()
    r = maria.upgrade()
    assert r.exit_code == 9, r.output[-3000:]
    err = envelope(r)["errors"][0]
    assert any("schema update failed on purpose" in d for d in err["details"]), r.output[-5000:]
    assert_unchanged(maria, before_fail)
    maria.reset()
    r = maria.upgrade()
    assert r.exit_code == 0, r.output[-4000:]
    stop = envelope(r)["data"]["stops"][0]
    print(f"\nMariaDB upgrade {maria.old_v} -> {maria.new_v}: read-only {stop['read_only_seconds']} s, total "
          f"{stop['total_seconds']} s")
    assert_upgraded(maria, before)


def test_dry_run_reports_local_changes_to_core(server: Any, pristine: dict[str, Any]) -> None:
    """The wiki was unpacked by hand from the channel's 1.39 tarball: the channel's manifest of 1.39 is the
    baseline, so a hacked core file shows in the plan (and nothing changes)."""
    def plan() -> dict[str, Any]:
        r = server.upgrade("--dry-run")
        assert r.exit_code == 0, r.output[-3000:]
        data: dict[str, Any] = envelope(r)["data"]["plan"]
        return data

    server.reset()
    assert plan()["local_changes"] == []  # LocalSettings, images, MwrTestKeep are the admin's
    server.sh("echo '// a local hack' >> /var/www/wiki/includes/WebStart.php")
    assert plan()["local_changes"] == ["changed: includes/WebStart.php"]
    r = server.upgrade()  # refused without --discard-local-changes, nothing changed
    assert r.exit_code == 3 and "changed: includes/WebStart.php" in envelope(r)["errors"][0]["details"], r.output[-3000:]
    server.sh("sed -i '$ d' /var/www/wiki/includes/WebStart.php")
    assert_unchanged(server, pristine)
