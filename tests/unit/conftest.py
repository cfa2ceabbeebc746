"""Unit tests keep upgrade state (journal, backups, history) in their own temporary folder, never in /var/lib."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state-home"
    monkeypatch.setenv("MWRELEASE_STATE_HOME", str(home))
    return home
