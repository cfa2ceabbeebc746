"""Constraint checks in bulk, with the meaning of ``Constraint.allows`` (composer/semver's) unchanged.

Resolving a large bundle evaluates tens of thousands of (constraint, version) pairs. ``Constraint.allows``
compares with a port of PHP's ``version_compare`` on strings, which is exact but slow; ``Version`` carries
a sort key that orders numbered versions exactly like ``version_compare`` (tests/unit/test_versions.py and
the composer/semver oracle test hold it to that), so here a simple comparison of two numbered versions
compares keys. Branches ("dev-…") and ``!=`` go through versions.py's own code. tests/unit/test_resolver_engine.py
checks this against ``Constraint.allows`` on every constraint of the real metadata and generated shapes.

A constraint made only of such comparisons is an OR of intervals over the keys: each AND group keeps its
strongest lower and upper bound, and a version is checked with one chained comparison per group.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mwrelease import versions
from mwrelease.errors import ConstraintError


# versions._compare_with(op, cmp(a, b)) for keys a, b; equal keys are equal versions (Version.__eq__).
_OPS: dict[str, Callable[[Any, Any], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
                                               "==": operator.eq}
_Simple = tuple[str, str, Callable[[Any, Any], bool] | None, Any]
# Interval ends over (key, 1), a numbered version's point: (b, 0) < (b, 1) < (b, 2) puts an inclusive lower
# bound or a strict upper bound just below b's point, a strict lower or inclusive upper bound just above it.
# Numbered keys are (0, pieces), pieces a tuple of (int, int) ending in (4, -1) and holding it nowhere else, so
# no pieces is a proper prefix of others: (pieces, e) compares as the flat tuple (*ints of pieces, e) does
# (``_flat``), which is several times faster to compare than the nested one (tens of thousands of times a
# resolve). () is below every flat end, (99,) above every one (a piece's first int is at most 5).
_BELOW: tuple[int, ...] = ()
_ABOVE: tuple[int, ...] = (99,)
_LOWER_END = {">=": 0, ">": 2, "==": 0}
_UPPER_END = {"<=": 2, "<": 0, "==": 2}


_Parsed = tuple[versions.Version, Any, Any] | None  # (version, key, point); key and point None for a branch


@dataclass(frozen=True, kw_only=True)
class Versions:
    texts: tuple[str, ...]
    parsed: tuple[_Parsed, ...]  # None: no version
    points: tuple[Any, ...] | None  # None unless every one is a numbered version

    def __len__(self) -> int:
        return len(self.texts)


class ConstraintChecker:
    def __init__(self) -> None:
        self._parsed: dict[str, list[list[_Simple]] | None] = {}
        self._versions: dict[str, _Parsed] = {}
        self._bounds: dict[str, tuple[Any, tuple[int, ...]]] = {}  # bound -> (its key, the key's flat pieces)
        self._intervals: dict[str, list[tuple[Any, Any]] | None] = {}  # None: a "!=" or branch bound somewhere

    def allows(self, constraint: str, version: str) -> bool:
        """``parse_constraint(constraint).allows(version)``; False where either does not parse.
        (``self.allowed(constraint, [version])[0]``, without building a ``Versions``.)"""
        groups = self._parsed[constraint] if constraint in self._parsed else self._groups(constraint)
        if groups is None:
            return False
        v = self._versions[version] if version in self._versions else self._version(version)
        if v is None:
            return False
        intervals = self._intervals[constraint]
        if intervals is not None and v[2] is not None:
            point = v[2]
            return any(low < point < high for low, high in intervals)
        if v[1] is None:  # a branch: versions.py decides
            return versions.parse_constraint(constraint).allows(v[0])
        return self._match(groups, v)

    def platform_ok(self, mediawiki: str | None, php_req: object, *, core: str, php: tuple[str, ...]) -> bool:
        """``not compat.platform_reasons(…)`` of a ref declaring ``mediawiki`` and ``php_req`` (requires.platform.php,
        else composer.json's require.php): the same checks, an invalid constraint fitting nothing."""
        if mediawiki is not None and not self.allows(mediawiki, core):
            return False
        return not isinstance(php_req, str) or all(self.allows(php_req, p) for p in php)

    def versions_of(self, texts: list[str]) -> Versions:
        """``texts`` parsed once, for checking many constraints against them (the refs of one extension)."""
        known = self._versions
        parsed = tuple(known[t] if t in known else self._version(t) for t in texts)
        numbered = all(v is not None and v[2] is not None for v in parsed)
        return Versions(texts=tuple(texts), parsed=parsed,
                        points=tuple(v[2] for v in parsed if v is not None) if numbered else None)

    def allowed(self, constraint: str, candidates: list[str] | Versions) -> list[bool]:
        """``allows`` for each of ``candidates``."""
        groups = self._groups(constraint)
        if groups is None:
            return [False] * len(candidates)
        vs = candidates if isinstance(candidates, Versions) else self.versions_of(candidates)
        intervals = self._intervals[constraint]
        if intervals is not None and vs.points is not None:  # the usual case: one comparison per AND group
            if len(intervals) == 1:
                low, high = intervals[0]
                return [low < point < high for point in vs.points]
            if len(intervals) == 2:  # "^1.2 || ^2.0"
                (low, high), (low2, high2) = intervals
                return [low < point < high or low2 < point < high2 for point in vs.points]
            return [any(low < point < high for low, high in intervals) for point in vs.points]
        out = []
        for v in vs.parsed:
            if v is None:
                out.append(False)
            elif v[1] is None:  # a branch: versions.py decides
                out.append(versions.parse_constraint(constraint).allows(v[0]))
            else:
                out.append(self._match(groups, v))
        return out

    def select(self, constraint: str, vs: Versions, items: Sequence[int]) -> list[int]:
        """The ``items`` (one per version of ``vs``, in order) whose version ``constraint`` allows:
        ``[i for i, ok in zip(items, self.allowed(constraint, vs)) if ok]``."""
        groups = self._parsed[constraint] if constraint in self._parsed else self._groups(constraint)
        if groups is None:
            return []
        intervals = self._intervals[constraint]
        points = vs.points
        if intervals is not None and points is not None:
            if len(intervals) == 1:
                low, high = intervals[0]
                return [i for i, point in zip(items, points) if low < point < high]
            if len(intervals) == 2:
                (low, high), (low2, high2) = intervals
                return [i for i, point in zip(items, points) if low < point < high or low2 < point < high2]
        return [i for i, ok in zip(items, self.allowed(constraint, vs)) if ok]

    @staticmethod
    def _match(groups: list[list[_Simple]], v: tuple[versions.Version, Any, Any]) -> bool:
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
        # the AND groups for _match, and each as (lower end, upper end) around the points it allows (None when
        # a group has a "!=" or branch bound: those keep the comparison of versions.py), in one pass
        groups = []
        intervals: list[tuple[Any, Any]] | None = []
        bounds = self._bounds
        for group in parsed.groups:
            simples = []
            low, high = _BELOW, _ABOVE
            for simple in group:
                if simple is None:
                    continue
                op, bound = simple
                compare = _OPS.get(op) if not bound.startswith("dev-") else None
                bkey = None
                if compare is None:
                    intervals = None
                else:
                    known = bounds.get(bound)
                    if known is None:
                        key = versions._sort_key(bound)  # noqa: SLF001
                        known = bounds[bound] = (key, _flat(key, 0)[:-1])
                    bkey, flat = known
                    if intervals is not None:
                        if op in _LOWER_END:
                            low = max(low, (*flat, _LOWER_END[op]))
                        if op in _UPPER_END:
                            high = min(high, (*flat, _UPPER_END[op]))
                simples.append((op, bound, compare, bkey))
            groups.append(simples)
            if intervals is not None:
                intervals.append((low, high))
        self._parsed[constraint] = groups
        self._intervals[constraint] = intervals
        return groups

    def _version(self, text: str) -> _Parsed:
        if text not in self._versions:
            try:
                v = versions.parse_version(text)
            except ConstraintError:
                self._versions[text] = None
            else:
                # the order versions.py guarantees equals version_compare's, for numbered versions
                key = None if v.is_branch else v._key  # noqa: SLF001
                self._versions[text] = (v, key, None if key is None else _flat(key, 1))
        return self._versions[text]


def _flat(key: Any, end: int) -> tuple[int, ...]:
    """(key, end) of a numbered version's key as a flat tuple of ints, in the same order (see ``_BELOW``)."""
    return (*itertools.chain.from_iterable(key[1]), end)
