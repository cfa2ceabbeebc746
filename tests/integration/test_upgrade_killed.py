"""End to end, with real MediaWiki: an upgrade killed (SIGKILL, no cleanup) at each of its steps leaves a
journal from which the next run restores the 1.39 wiki with all its data. Its own file so that pytest-xdist
can run it beside test_upgrade_e2e.py (each file has its own admin server)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

# harness is tests/fixtures/upgrade/harness.py, on sys.path through tests/integration/conftest.py.
from harness import assert_unchanged, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import admin_server, pristine_snapshot

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[Any]:
    yield from admin_server(engine, "sqlite")


@pytest.fixture(scope="module")
def pristine(server: Any) -> dict[str, Any]:
    return pristine_snapshot(server)


@pytest.mark.parametrize("step", ["download", "unpack", "readonly", "backup", "stage", "update", "switch",
                                  "switch-between-renames", "health", "live"])
def test_killed_upgrade_is_rolled_back_by_next_run(server: Any, pristine: dict[str, Any], step: str) -> None:
    server.reset()
    r = server.upgrade(env={"MWRELEASE_FAULT_KILL_AT": step})
    assert r.exit_code in (137, -9), r.output[-3000:]  # SIGKILL: no cleanup ran
    assert server.sh("test -f /var/lib/mwrelease/*/journal.json", check=False).exit_code == 0
    rb = server.rollback()
    assert rb.exit_code == 0, rb.output[-3000:]
    assert envelope(rb)["data"]["stopped_at"] == ("switch" if step.startswith("switch") else step)
    assert_unchanged(server, pristine)
