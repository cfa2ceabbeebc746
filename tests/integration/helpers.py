"""Helpers shared by the integration test modules."""

from __future__ import annotations

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
