"""Constraint checks in bulk, with the meaning of ``Constraint.allows`` (composer/semver's) unchanged.

Resolving a large bundle evaluates tens of thousands of (constraint, version) pairs. ``Constraint.allows``
compares with a port of PHP's ``version_compare`` on strings, which is exact but slow; ``Version`` carries
a sort key that orders numbered versions exactly like ``version_compare`` (tests/unit/test_versions.py and
the composer/semver oracle test hold it to that), so here a simple comparison of two numbered versions
compares keys. Branches ("dev-…") and ``!=`` go through versions.py's own code. tests/unit/test_resolver_bulk.py
checks this against ``Constraint.allows`` on every constraint of the real metadata and generated shapes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from mwrelease import versions
from mwrelease.errors import ConstraintError


# versions._compare_with(op, cmp(a, b)) for keys a, b; equal keys are equal versions (Version.__eq__).
_OPS: dict[str, Callable[[Any, Any], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
                                               "==": operator.eq}
_Simple = tuple[str, str, Callable[[Any, Any], bool] | None, Any]


class ConstraintChecker:
    def __init__(self) -> None:
        self._parsed: dict[str, list[list[_Simple]] | None] = {}
        self._versions: dict[str, tuple[versions.Version, Any] | None] = {}
        self._bounds: dict[str, Any] = {}

    def allows(self, constraint: str, version: str) -> bool:
        """``parse_constraint(constraint).allows(version)``; False where either does not parse."""
        return self.allowed(constraint, [version])[0]

    def platform_ok(self, mediawiki: str | None, php_req: object, *, core: str, php: tuple[str, ...]) -> bool:
        """``not compat.platform_reasons(…)`` of a ref declaring ``mediawiki`` and ``php_req`` (requires.platform.php,
        else composer.json's require.php): the same checks, an invalid constraint fitting nothing."""
        if mediawiki is not None and not self.allows(mediawiki, core):
            return False
        return not isinstance(php_req, str) or all(self.allows(php_req, p) for p in php)

    def allowed(self, constraint: str, candidates: list[str]) -> list[bool]:
        """``allows`` for each of ``candidates``."""
        groups = self._groups(constraint)
        if groups is None:
            return [False] * len(candidates)
        known, out = self._versions, []
        for text in candidates:
            v = known[text] if text in known else self._version(text)
            if v is None:
                out.append(False)
            elif v[1] is None:  # a branch: versions.py decides
                out.append(versions.parse_constraint(constraint).allows(v[0]))
            else:
                out.append(self._match(groups, v))
        return out

    @staticmethod
    def _match(groups: list[list[_Simple]], v: tuple[versions.Version, Any]) -> bool:
        vkey = v[1]
        for group in groups:
            for op, bound, compare, bkey in group:
                if compare is None:  # "!=" or a branch bound: versions.py's own comparison
                    if not versions._simple_allows((op, bound), v[0].normalized):  # noqa: SLF001
                        break
                elif not compare(vkey, bkey):
                    break
            else:
                return True
        return False

    def _groups(self, constraint: str) -> list[list[_Simple]] | None:
        if constraint in self._parsed:
            return self._parsed[constraint]
        try:
            parsed = versions.parse_constraint(constraint)
        except ConstraintError:
            self._parsed[constraint] = None
            return None
        groups = []
        for group in parsed.groups:
            simples = []
            for simple in group:
                if simple is None:
                    continue
                op, bound = simple
                compare = _OPS.get(op) if not bound.startswith("dev-") else None
                bkey = None
                if compare is not None:
                    bkey = self._bounds.get(bound)
                    if bkey is None:
                        bkey = self._bounds[bound] = versions._sort_key(bound)  # noqa: SLF001
                simples.append((op, bound, compare, bkey))
            groups.append(simples)
        self._parsed[constraint] = groups
        return groups

    def _version(self, text: str) -> tuple[versions.Version, Any] | None:
        if text not in self._versions:
            try:
                v = versions.parse_version(text)
            except ConstraintError:
                self._versions[text] = None
            else:
                # the order versions.py guarantees equals version_compare's, for numbered versions
                self._versions[text] = (v, None if v.is_branch else v._key)  # noqa: SLF001
        return self._versions[text]
