"""Resolver cases as data (tests/data/resolver/*.json), one parametrised test runs them all."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from mwrelease.bundle import parse_bundle
from mwrelease.catalog import Candidate, Catalog, Requires
from mwrelease.errors import MwreleaseError
from mwrelease.resolver import Target, resolve

CASES = sorted((Path(__file__).parents[1] / "data" / "resolver").glob("*.json"))


def make_catalog(spec: dict[str, list[dict[str, Any]]]) -> Catalog:
    cands = []
    for name, refs in spec.items():
        for r in refs:
            cands.append(Candidate(name=name, kind=r.get("kind", "extension"), ref=r["ref"], ref_type=r.get("ref_type", "branch"),
                                   commit=r.get("commit"), version=r.get("version"),
                                   requires=Requires.from_manifest(r.get("requires")),
                                   composer_require=MappingProxyType(r.get("composer", {})), origin="test"))
    return Catalog(cands, sources=["test"])


@pytest.mark.parametrize("case_file", CASES, ids=[c.stem for c in CASES])
def test_resolver_case(case_file: Path) -> None:
    case = json.loads(case_file.read_text())
    core = case["core"]
    line = ".".join(core.split(".")[:2])
    bundle_dict = {"name": case_file.stem, "core": {"lines": [line]}, "extensions": {}, **case["bundle"]}
    import yaml

    bundle = parse_bundle(yaml.safe_dump(bundle_dict), origin=case_file)
    catalog = make_catalog(case["catalog"])
    target = Target(core=core, php=tuple(bundle.php))
    if "expect_error" in case:
        with pytest.raises(MwreleaseError) as info:
            resolve(bundle, catalog, target)
        err = info.value
        assert err.exit_code == case["expect_error"]["exit_code"], err.render()
        assert case["expect_error"]["contains"] in err.render(), err.render()
    else:
        result = resolve(bundle, catalog, target)
        assert {n: c.ref for n, c in result.chosen.items()} == case["expect"]
        for name, parents in case.get("expect_required_by", {}).items():
            assert result.lock.component(name).required_by == tuple(parents)


def test_cases_exist() -> None:
    assert len(CASES) >= 10
