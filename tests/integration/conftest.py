"""Fixtures for the integration tests: one Docker engine for the whole run, or a skip with the reason."""

from __future__ import annotations

import sys

import pytest

from mwrelease.errors import EngineError
from mwrelease.runner.engine import Engine
from tests.helpers import FIXTURES

# The end-to-end upgrade tests share tests/fixtures/upgrade/harness.py (and minor.py, which imports it as
# `harness`); they are plain modules copied into the admin's container too, not a package.
sys.path.insert(0, str(FIXTURES / "upgrade"))


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The Docker engine the tests run containers on (ci/prepare-machine.sh starts one)."""
    try:
        return Engine.connect()
    except EngineError as exc:
        pytest.skip(f"no Docker engine answers ($DOCKER_HOST or /var/run/docker.sock; run ci/prepare-machine.sh): "
                    f"{exc.message}")
