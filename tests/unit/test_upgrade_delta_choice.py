"""Choosing the delta artifact: only from exactly the installed version, over a pristine tree; and a wiki
unpacked by hand from a release tarball (no installed manifest) adopts the channel's manifest when its tree
matches it exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mwrelease.release.manifest import Manifest, scan_tree
from mwrelease.upgrade.inspect import adopt_release_manifest
from mwrelease.upgrade.plan import choose_artifact, installed_is_pristine, make_plan

from tests.unit.helpers import IDX, MANIFESTS, ext, index, inst, manifest, release


def test_choose_artifact_delta_only_from_the_installed_version_and_pristine() -> None:
    rel = IDX.find("1.43.5")
    assert rel is not None
    assert choose_artifact(rel, "1.43.4", pristine=True).kind == "delta"
    assert choose_artifact(rel, "1.43.4", pristine=True).delta_from == "1.43.4"
    assert choose_artifact(rel, "1.43.4", pristine=False).kind == "full"
    assert choose_artifact(rel, "1.43.3", pristine=True).kind == "full"  # no delta from 1.43.3
    assert choose_artifact(rel, "1.39.10", pristine=True).kind == "full"


def test_installed_is_pristine() -> None:
    assert not installed_is_pristine(inst("1.43.4"))
    assert installed_is_pristine(inst("1.43.4", installed=manifest("1.43.4")))
    assert not installed_is_pristine(inst("1.43.4", installed=manifest("1.43.4"), changes=("x differs",)))
    assert not installed_is_pristine(inst("1.43.4", installed=manifest("1.43.3")))


def test_plan_uses_delta_when_installed_equals_delta_from_with_to() -> None:
    idx = index(release("1.43.4"), release("1.43.5", delta_from="1.43.4"), release("1.43.6", delta_from="1.43.5"))
    ms = {v: manifest(v) for v in ("1.43.4", "1.43.5", "1.43.6")}
    plan = make_plan(inst("1.43.4", installed=manifest("1.43.4")), idx, ms, to="1.43.5")
    assert plan.stops[0].delta_from == "1.43.4" and plan.stops[0].artifact.endswith("-from-1.43.4.delta.tar.gz")
    # 1.43.6's only delta is from 1.43.5: a 1.43.4 wiki gets the full tarball.
    plan = make_plan(inst("1.43.4", installed=manifest("1.43.4")), idx, ms, to="1.43.6")
    assert plan.stops[0].delta_from is None and plan.stops[0].artifact == "mediawiki-1.43.6.tar.gz"
    assert make_plan(inst("1.39.10", installed=manifest("1.39.10")), IDX, MANIFESTS, line="1.43").stops[0].delta_from is None


def _tree(root: Path) -> Manifest:
    (root / "includes").mkdir(parents=True)
    (root / "index.php").write_text("<?php\n")
    (root / "includes" / "Defines.php").write_text("<?php define( 'MW_VERSION', '1.43.4' );\n")
    (root / "extensions" / "Cite").mkdir(parents=True)
    (root / "extensions" / "Cite" / "extension.json").write_text("{}")
    return Manifest(name="mediawiki-1.43.4", core_version="1.43.4", core_line="1.43", files=tuple(scan_tree(root)))


def test_tarball_install_adopts_the_channel_manifest_when_pristine(tmp_path: Path) -> None:
    m = _tree(tmp_path)
    # The admin's own files: LocalSettings.php, images/, a custom extension.
    (tmp_path / "LocalSettings.php").write_text("<?php\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "extensions" / "Mine").mkdir()
    (tmp_path / "extensions" / "Mine" / "extension.json").write_text("{}")
    i = dataclasses.replace(inst("1.43.4", ext("Mine", ">= 1.39")), tree=tmp_path)
    adopted = adopt_release_manifest(i, m)
    assert adopted.installed_manifest is m and installed_is_pristine(adopted)
    assert adopt_release_manifest(i, dataclasses.replace(m, core_version="1.43.3")).installed_manifest is None
    # A changed core file: not that release any more, so no delta; the change is reported.
    (tmp_path / "index.php").write_text("<?php // local hack\n")
    changed = adopt_release_manifest(i, m)
    assert changed.installed_manifest is None and not installed_is_pristine(changed)
    assert [c for c in changed.local_changes if "index.php" in c], changed.local_changes
