"""Lock.to_json writes every field of a component, as dataclasses.asdict did, without sharing data with the lock."""

from __future__ import annotations

from dataclasses import asdict, fields

from mwrelease.lock import LockedComponent, SmokeCheck, Source, _component_json


def component() -> LockedComponent:
    return LockedComponent(name="Cite", kind="extension", ref="REL1_43", ref_type="branch", commit="abc", version="1.0",
                           source=Source(type="git", url="https://example.org/Cite.git"), catalog="snapshot:x",
                           requires={"MediaWiki": ">= 1.43", "extensions": {"ParserFunctions": "*"}},
                           required_by=("bundle", "Foo"), settings="$wgX = 1;\n",
                           smoke=(SmokeCheck(name="s", wikitext="{{x}}", expect="y"),), load=False)


def test_component_json_equals_asdict_form() -> None:
    c = component()
    expected = asdict(c)
    expected["source"] = {k: v for k, v in expected["source"].items() if v is not None}
    expected["required_by"] = list(c.required_by)
    expected["smoke"] = [asdict(s) for s in c.smoke]
    got = _component_json(c)
    assert got == expected
    assert list(got) == [f.name for f in fields(LockedComponent)]  # same keys, same order: a new field is not forgotten


def test_component_json_is_a_copy() -> None:
    c = component()
    got = _component_json(c)
    got["requires"]["extensions"]["Other"] = "*"
    assert "Other" not in c.requires["extensions"]
