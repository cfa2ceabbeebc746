"""schema_quick.check against jsonschema: True only where jsonschema finds no error, False only where it finds one."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mwrelease.bundle import bundle_schema
from mwrelease.schema_quick import check

REPO = Path(__file__).resolve().parents[2]
ODD_VALUES: list[Any] = [None, True, 0, 1.5, "", "x y", "REL1_43", "1.43", "abc1234", [], ["a", "a"], {}, {"x": 1},
                         "rel-branch", "sqlite", "git", [1], ["1.43"], ["8.2"], {"type": "git"}]


_VALIDATORS: dict[int, Any] = {}


def _validator(schema: dict[str, Any]) -> Any:
    return _VALIDATORS.setdefault(id(schema), jsonschema.Draft202012Validator(schema))


def agree(schema: dict[str, Any], data: Any) -> str:
    verdict = check(schema, data)
    errors = list(_validator(schema).iter_errors(data))
    assert verdict is not True or not errors, f"quick says valid, jsonschema says {errors[0].message}"
    assert verdict is not False or errors, "quick says invalid, jsonschema finds nothing"
    return "valid" if verdict is True else "invalid" if verdict is False else "unknown"


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    path = rng.choice(paths(data)[1:])
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    action = rng.random()
    if action < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif action < 0.8 and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[rng.choice(["bogus", "ref", "refs", "smoke", "load", "commit", "Ext One", "-bad"])] = rng.choice(ODD_VALUES)
    return data


def test_real_bundles_are_surely_valid() -> None:
    schema = bundle_schema()
    for path in sorted((REPO / "bundles").glob("*.yaml")):
        assert agree(schema, yaml.safe_load(path.read_text())) == "valid", path


def test_mutated_bundles_agree_with_jsonschema() -> None:
    schema = bundle_schema()
    rng = random.Random(13)
    seen = {"valid": 0, "invalid": 0, "unknown": 0}
    for path in sorted((REPO / "bundles").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for _ in range(80):
            seen[agree(schema, mutate(data, rng))] += 1
    assert seen["valid"] > 50 and seen["invalid"] > 50  # the mutations reach both answers
