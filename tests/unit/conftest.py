"""Unit tests keep upgrade state (journal, backups, history) in their own temporary folder, never in /var/lib."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state-home"
    monkeypatch.setenv("MWRELEASE_STATE_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unsigned stand-in channel with releases 1.39.1 and 1.43.1 of the fake core (tests that need
    another shape define their own ``channel``)."""
    from mwrelease.release.build import build_release
    from mwrelease.release.channel import publish
    from tests.unit.helpers import fake_core, fake_lock

    base = tmp_path_factory.mktemp("rel")
    ch = base / "channel"
    for v in ("1.39.1", "1.43.1"):
        (full,) = build_release(fake_lock(v), fake_core(base / f"core-{v}", v), base / "out")
        publish(full.tarball, ch)
    return ch


@pytest.fixture
def trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private trust store (anchors and verified metadata) for this test: `pytestmark = usefixtures(...)`."""
    store = tmp_path / "trust-store"
    monkeypatch.setenv("MWRELEASE_TRUST_DIR", str(store))
    return store
