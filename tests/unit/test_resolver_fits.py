"""BundleRules.fits (through the constraint cache) says what compat.platform_reasons says, on the real metadata."""

from __future__ import annotations

from pathlib import Path

from mwrelease.bundle import parse_bundle
from mwrelease.catalog import load_catalog
from mwrelease.compat import platform_reasons
from mwrelease.resolver import BundleRules, Target


def test_fits_equals_platform_reasons(snapshots: Path) -> None:
    catalog = load_catalog([str(snapshots)])
    bundle = parse_bundle("name: x\ncore:\n  lines: ['1.39', '1.43']\nextensions:\n  Cite:\n", origin=Path("x.yaml"))
    seen = set()
    for core, php in (("1.39.10", ("7.4",)), ("1.43.0", ("8.2", "8.4")), ("1.43.0", ()), ("1.35.0", ("7.3", "8.1"))):
        rules = BundleRules(bundle, catalog, Target(core=core, php=php))
        for cand in catalog.all():
            if cand.has_manifest:
                expected = not platform_reasons(cand, core=core, php=php)
                assert rules.fits(cand) == expected, (cand.label, core, php)
                seen.add(expected)
    assert seen == {True, False}
