from __future__ import annotations

from pathlib import Path

import pytest

from mwrelease.bundle import load_bundle, parse_bundle
from mwrelease.errors import ConfigError

BUNDLES = sorted((Path(__file__).parents[2] / "bundles").glob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_shipped_bundles_validate(path: Path) -> None:
    b = load_bundle(path)
    assert b.name == path.stem
    assert b.components


def test_shipped_flavors() -> None:
    names = {p.stem for p in BUNDLES}
    assert {"tarball-1.43", "language-1.43"} <= names
    lang = load_bundle(Path(__file__).parents[2] / "bundles" / "language-1.43.yaml")
    assert {c.name for c in lang.extensions} == {"Translate", "UniversalLanguageSelector", "Babel", "cldr", "CleanChanges"}


def test_every_problem_at_once_with_lines() -> None:
    text = """name: demo
core: {lines: ["1.43"], bogus: 1}
extensions:
  Cite: {source: bundled, setings: 1}
  Foo:
    source: {git: x, ref: y}
    smoke: [{wikitext: a}]
databases: [sqlite, oracle]
"""
    with pytest.raises(ConfigError) as info:
        parse_bundle(text, origin=Path("demo.yaml"))
    details = info.value.details
    assert len(details) == 5, details
    assert details[0].startswith("demo.yaml:2: core: unknown key 'bogus'")
    assert details[1].startswith("demo.yaml:4: extensions.Cite: unknown key 'setings'")
    assert "demo.yaml:6: extensions.Foo.source" in details[2] and "expected one of: bundled" in details[2]
    assert details[3].startswith("demo.yaml:7: extensions.Foo.smoke.0: 'expect' is a required property")
    assert details[4].startswith("demo.yaml:8: databases.1")
    assert info.value.exit_code == 3


def test_malformed_yaml_names_line() -> None:
    with pytest.raises(ConfigError, match=r"demo.yaml:4:\d+: the bundle is not valid YAML .*flow sequence at line 3"):
        parse_bundle("name: x\ncore:\n  lines: [1.43\nextensions: {}\n", origin=Path("demo.yaml"))


def test_sources_and_settings(tmp_path: Path) -> None:
    text = """name: demo
core: {lines: ["1.43"]}
defaults: {source: bundled}
extensions:
  Cite:
  Gizmo: {source: {git: ../repos/Gizmo}, refs: rel-branch, settings: "$wgGizmo = 1;"}
  Local: {source: {path: ext/Local}, load: false}
  Packed: {source: {tarball: "https://example.invalid/p.tgz", sha256: "%s"}}
""" % ("a" * 64)
    b = parse_bundle(text, origin=tmp_path / "demo.yaml")
    assert b.component("Cite").source.type == "bundled"  # type: ignore[union-attr]
    gizmo = b.component("Gizmo")
    assert gizmo is not None and gizmo.source.url == str((tmp_path / "../repos/Gizmo").resolve()) and gizmo.refs == "rel-branch"
    assert gizmo.settings == "$wgGizmo = 1;"
    local = b.component("Local")
    assert local is not None and local.load is False and local.source.path == str(tmp_path / "ext/Local")
    assert b.component("Packed").source.sha256 == "a" * 64  # type: ignore[union-attr]
