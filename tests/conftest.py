from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SNAPSHOTS = SHARED / "data" / "extension-metadata"
CORES = REPO / ".cache" / "cores"


@pytest.fixture(scope="session")
def snapshots() -> Path:
    if not SNAPSHOTS.is_dir():
        pytest.skip(f"real snapshot data not found at {SNAPSHOTS} (../shared beside the repo)")
    return SNAPSHOTS


def core_tree(line: str) -> Path:
    path = CORES / line
    if not (path / "includes" / "Defines.php").is_file():
        pytest.skip(f"core tree {line} missing: run ci/fetch-core-trees.sh")
    return path


@pytest.fixture()
def run_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real console entry point in a subprocess; returns CompletedProcess."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
        return subprocess.run(["python", "-m", "mwrelease", *args], capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=300)

    return run


def git_available() -> bool:
    return shutil.which("git") is not None
