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
