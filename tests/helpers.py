"""Helpers shared by unit and integration tests: where the repository, its data and the core trees are, and
how to run the real command. Test modules import helpers from here (or tests/unit/helpers.py for fake
inputs), never from each other or from a conftest.py, which holds only fixtures.

Nothing of mwrelease is imported here, so that the conftest files load even when a module of ours does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SNAPSHOTS = SHARED / "data" / "extension-metadata"
CORES = REPO / ".cache" / "cores"
FIXTURES = REPO / "tests" / "fixtures"


def core_tree(line: str) -> Path:
    path = CORES / line
    if not (path / "includes" / "Defines.php").is_file():
        pytest.skip(f"core tree {line} missing: run ci/fetch-core-trees.sh")
    return path


def run_mwrelease(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                  timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess, on this interpreter (not whatever `python` is on PATH)."""
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=timeout)
