"""The cell sandbox's mounts and ulimits as a cell asks the engine for them (issue 12, finding 8), without an engine:
/tmp is noexec like every fixed writable place (only component trees may run what is in them), and a file size
limit is on by default, soft at 1 GiB, hard where MediaWiki's Shellbox raises it (see sandbox.SHELLBOX_FSIZE).
tests/integration/test_sandbox.py proves the same limits in real containers."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mwrelease.lock import LockedComponent, Source
from mwrelease.runner import images
from mwrelease.runner.cell import CellOptions, CellSession
from mwrelease.runner.plan import plan
from mwrelease.runner.sandbox import DEBIAN_WRITABLE, Sandbox
from tests.unit.helpers import make_lock

SHELLBOX_FSIZE = 102400 * 1024 * 1024  # MediaWiki's default $wgMaxShellFileSize, as limit.sh asks for it

EXT = LockedComponent(name="Hostile", kind="extension", ref=None, ref_type="tree", commit=None, version="1.0",
                      source=Source(type="path", path="/nowhere/Hostile"), catalog="t")


class _Engine:
    def image(self, tag: str) -> Any:
        return SimpleNamespace(labels={"mwrelease.mediawiki.path": images.DEBIAN_MW_PATH})


def _sandbox(options: CellOptions = CellOptions()) -> Sandbox:
    (cell,) = plan(make_lock("1.43.1", (EXT,)))
    with ExitStack() as stack:
        box = CellSession(cell, _Engine(), options=options, stack=stack,  # type: ignore[arg-type]
                          workdir=Path("/nonexistent")).sandbox_for()
    assert box is not None
    return box


def test_tmp_and_every_fixed_place_are_noexec_nosuid_nodev_and_component_trees_run() -> None:
    mounts = _sandbox().tmpfs_options()
    tree = f"{images.DEBIAN_MW_PATH}/extensions/Hostile"
    assert set(mounts) == {*DEBIAN_WRITABLE, tree}
    for place in DEBIAN_WRITABLE:  # a dropped binary in /tmp cannot be run
        assert {"noexec", "nosuid", "nodev"} <= set(mounts[place].split(",")), (place, mounts[place])
    assert {"exec", "nosuid", "nodev"} <= set(mounts[tree].split(","))  # SyntaxHighlight's bundled pygmentize


def test_a_file_size_limit_is_on_by_default_soft_1_gib_hard_where_shellbox_sets_it() -> None:
    (fsize,) = [u for u in _sandbox().run_options()["ulimits"] if u["Name"] == "fsize"]
    assert fsize["Soft"] == 1 << 30
    # limit.sh runs `ulimit -f 104857600` (KiB: 100 GiB) for MediaWiki's default $wgMaxShellFileSize; a hard
    # limit below that makes it fail, and SyntaxHighlight with it.
    assert fsize["Hard"] >= SHELLBOX_FSIZE
    small = _sandbox(CellOptions(fsize=48 << 20)).run_options()["ulimits"]
    assert [(u["Soft"], u["Hard"]) for u in small if u["Name"] == "fsize"] == [(48 << 20, SHELLBOX_FSIZE)]
    assert not [u for u in _sandbox(CellOptions(fsize=0)).run_options()["ulimits"] if u["Name"] == "fsize"]
