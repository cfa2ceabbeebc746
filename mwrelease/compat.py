"""Declared compatibility: does a candidate's ``requires`` admit a core (and PHP) version?

Reason codes are MediaWiki's own (VersionChecker's error types): ``incompatible-core``,
``incompatible-php``, ``missing-phpExtension``, ``missing-ability``, ``missing-extensions``,
``incompatible-extensions``, ``missing-skins``, ``incompatible-skins``; plus ``invalid-constraint``
for a ``requires`` string that does not parse and ``no-manifest`` for a ref without extension.json.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from mwrelease.catalog import Candidate
from mwrelease.errors import ConstraintError
from mwrelease.versions import parse_constraint

Status = Literal["compatible", "incompatible", "unknown"]


@dataclass(frozen=True, kw_only=True)
class Reason:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def constraint_admits(cand: Candidate, field: str, constraint: str, version: str) -> bool | Reason:
    """True/False, or an ``invalid-constraint`` Reason naming extension, ref and string."""
    try:
        return parse_constraint(constraint).allows(version)
    except ConstraintError as exc:
        return Reason(code="invalid-constraint",
                      message=f"{cand.label} declares {field} {constraint!r}, which is not a valid constraint ({exc.message}); "
                              f"see {cand.origin}.")


def platform_reasons(cand: Candidate, *, core: str, php: Iterable[str] = ()) -> list[Reason]:
    """Why ``cand`` does not fit this core/PHP, from its declared requirements (empty: it fits)."""
    reasons: list[Reason] = []
    req = cand.requires
    if req.mediawiki is not None:
        ok = constraint_admits(cand, "requires.MediaWiki", req.mediawiki, core)
        if isinstance(ok, Reason):
            reasons.append(ok)
        elif not ok:
            reasons.append(Reason(code="incompatible-core",
                                  message=f"{cand.label} requires MediaWiki {req.mediawiki}; core is {core}"))
    # PHP comes from extension.json's requires.platform.php, or else from composer.json's require.php.
    php_req, field = (req.php, "requires.platform.php") if req.php is not None else (cand.composer_require.get("php"), "composer.json require.php")
    if isinstance(php_req, str):
        for p in php:
            ok = constraint_admits(cand, field, php_req, p)
            if isinstance(ok, Reason):
                reasons.append(ok)
                break
            if not ok:
                reasons.append(Reason(code="incompatible-php", message=f"{cand.label} requires PHP {php_req}; PHP is {p}"))
    return reasons


def dependency_reasons(cand: Candidate, *, available: Callable[[str], list[Candidate]], core: str,
                       php: Iterable[str] = ()) -> list[Reason]:
    """One level of ``requires.extensions``/``skins``: is there a ref of each that fits this core?"""
    reasons: list[Reason] = []
    php = tuple(php)
    for kind, deps in (("extensions", cand.requires.extensions), ("skins", cand.requires.skins)):
        for dep, constraint in deps.items():
            options = available(dep)
            if not options:
                reasons.append(Reason(code=f"missing-{kind}", message=f"{cand.label} requires {dep}, which the catalog does not have"))
                continue
            if not any(not platform_reasons(o, core=core, php=php) and dependency_version_ok(o, constraint) for o in options):
                reasons.append(Reason(code=f"incompatible-{kind}",
                                      message=f"{cand.label} requires {dep} {constraint}; no ref of {dep} in the catalog fits core {core}"))
    return reasons


def dependency_version_ok(dep: Candidate, constraint: str) -> bool:
    """MediaWiki's rule: '*' accepts anything; otherwise the dependency must declare a matching version."""
    if constraint.strip() == "*":
        return True
    version = dep.clean_version
    if version is None:
        return False
    try:
        return parse_constraint(constraint).allows(version)
    except ConstraintError:
        return False


def declared_status(cand: Candidate, reasons: list[Reason]) -> Status:
    if reasons:
        return "incompatible"
    if not cand.has_manifest or not cand.requires.declared or cand.requires.mediawiki is None:
        return "unknown"
    return "compatible"
