"""Constraint checks in bulk, with the meaning of ``Constraint.allows`` (composer/semver's) unchanged.

Resolving a large bundle evaluates tens of thousands of (constraint, version) pairs. ``Constraint.allows``
compares with a port of PHP's ``version_compare`` on strings, which is exact but slow; ``Version`` carries
a sort key that orders numbered versions exactly like ``version_compare`` (tests/unit/test_versions.py and
the composer/semver oracle test hold it to that), so here a simple comparison of two numbered versions
compares keys. Branches ("dev-…") and ``!=`` go through versions.py's own code. tests/unit/test_resolver_bulk.py
checks this against ``Constraint.allows`` on every constraint of the real metadata and generated shapes.
"""

from __future__ import annotations

from typing import Any

from mwrelease import versions
from mwrelease.errors import ConstraintError


class ConstraintChecker:
    def __init__(self) -> None:
        self._parsed: dict[str, versions.Constraint | None] = {}
        self._bounds: dict[str, Any] = {}
        self._versions: dict[str, versions.Version | None] = {}
        self._answers: dict[tuple[str, str], bool] = {}

    def allows(self, constraint: str, version: str) -> bool:
        """``parse_constraint(constraint).allows(version)``; False where either does not parse."""
        key = (constraint, version)
        hit = self._answers.get(key)
        if hit is None:
            hit = self._answers[key] = self._allows(constraint, version)
        return hit

    def _allows(self, constraint: str, version: str) -> bool:
        if constraint not in self._parsed:
            try:
                self._parsed[constraint] = versions.parse_constraint(constraint)
            except ConstraintError:
                self._parsed[constraint] = None
        parsed = self._parsed[constraint]
        if version not in self._versions:
            try:
                self._versions[version] = versions.parse_version(version)
            except ConstraintError:
                self._versions[version] = None
        v = self._versions[version]
        if parsed is None or v is None:
            return False
        if v.is_branch:
            return parsed.allows(v)
        vkey = v._key  # noqa: SLF001 -- the order versions.py guarantees equals version_compare
        for group in parsed.groups:
            for simple in group:
                if simple is None:
                    continue
                op, bound = simple
                if op == "!=" or bound.startswith("dev-"):
                    ok = versions._simple_allows(simple, v.normalized)  # noqa: SLF001
                else:
                    bkey = self._bounds.get(bound)
                    if bkey is None:
                        bkey = self._bounds[bound] = versions._sort_key(bound)  # noqa: SLF001
                    ok = versions._compare_with(op, (vkey > bkey) - (vkey < bkey))  # noqa: SLF001
                if not ok:
                    break
            else:
                return True
        return False
