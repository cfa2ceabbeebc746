"""Fixtures for every test. Shared plain helpers (paths, core_tree, run_mwrelease) live in tests/helpers.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SNAPSHOTS, run_mwrelease


@pytest.fixture(scope="session")
def snapshots() -> Path:
    if not SNAPSHOTS.is_dir():
        pytest.skip(f"real snapshot data not found at {SNAPSHOTS} (../shared beside the repo)")
    return SNAPSHOTS


@pytest.fixture()
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real console entry point in a subprocess (this interpreter, a private cache dir)."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
        return run_mwrelease(*args, cwd=cwd, env=env)

    return run


# The longest test files first: under pytest-xdist (`-n 2 --dist loadfile`, ci/run-tests.sh) a worker that
# starts the 15-minute upgrade file last would leave the other idle at the end. Measured costs, minutes.
_HEAVY_FIRST = ("test_upgrade_e2e", "test_upgrade_killed", "test_upgrade_chain", "test_upgrade_more", "test_install_e2e",
                "test_upgrade_signed_e2e", "test_cells", "test_ci_real", "test_sandbox", "test_fanout", "test_images")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        stem = item.path.stem
        return _HEAVY_FIRST.index(stem) if stem in _HEAVY_FIRST else len(_HEAVY_FIRST)
    items.sort(key=rank)  # stable: the order inside a file, and of the rest, is kept
