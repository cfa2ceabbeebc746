"""Helpers shared by the integration test modules."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from mwrelease.runner.engine import Engine

PREPARE = "run ci/prepare-machine.sh"


def need_images(engine: Engine, *images: str, hint: str = PREPARE) -> None:
    """Skip the test unless every one of ``images`` is on the engine."""
    missing = [image for image in images if not engine.image_exists(image)]
    if missing:
        pytest.skip(f"image(s) {', '.join(missing)} missing: {hint}")


def need_any_image(engine: Engine, *images: str, hint: str = PREPARE) -> None:
    """Skip the test unless at least one of ``images`` is on the engine (the others can be built from it)."""
    if not any(engine.image_exists(image) for image in images):
        pytest.skip(f"none of {', '.join(images)} is there: {hint}")


def admin_server(engine: Engine, db: str = "sqlite") -> Iterator[Any]:
    """The upgrade tests' admin server (tests/fixtures/upgrade/harness.py) with a 1.39 wiki on ``db``."""
    import harness

    db_image = {"mariadb": harness.DB_IMAGE, "postgres": harness.PG_IMAGE}.get(db)
    need_images(engine, harness.OLD_IMAGE, harness.NEW_IMAGE, *((db_image,) if db_image else ()))
    channel, old_v, new_v = harness.build_artifacts(engine)
    yield from harness.admin_server(engine, harness.build_wheelhouse(), channel, old_v, new_v, db=db)


def pristine_snapshot(server: Any) -> dict[str, Any]:
    """The wiki as the harness creates it, checked to hold what the upgrade tests compare."""
    server.reset()
    snap: dict[str, Any] = server.snapshot()
    assert snap["version"] == server.old_v
    assert len(snap["pages"]) >= 3 and sum(len(r) for r in snap["pages"].values()) >= 9
    assert "Alice" in snap["users"] and "Mwr-test-1.png" in snap["files"]
    assert "MwrTestKeep" in snap["extensions"]
    assert all("MWRKEEP-OK" in m and "PF-OK" in m for t, m in snap["rendered"].items() if t.startswith("Test page"))
    return snap
