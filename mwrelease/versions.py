"""MediaWiki / Composer versions and constraints, with exactly the meaning MediaWiki gives them.

MediaWiki's ``VersionChecker`` decides whether an extension's ``requires`` entry is met with
composer/semver::

    $parser->parseConstraints( $constraint )->matches( new Constraint( '==', $parser->normalize( $version ) ) )

This module is a pure-Python port of the parts of composer/semver 3.x that this expression
uses: ``VersionParser::normalize``, ``VersionParser::parseConstraints`` (including the
``MultiConstraint::create`` optimisation of OR groups, which changes the meaning of some odd
constraints), ``Constraint::matchSpecific`` and PHP's own ``version_compare``. The regular
expressions are composer's, translated to Python (ASCII-only, same anchoring and backtracking),
so odd inputs are accepted or rejected exactly as composer does. The integration test
``tests/integration/test_semver_oracle.py`` compares every verdict with the real library.

Public API::

    Version.parse("1.43.0-alpha") / parse_version(...)   -> Version (normalised "1.43.0.0-alpha")
    parse_constraint(">= 1.39")                         -> Constraint (cached)
    Constraint.allows(version)                          -> bool
    satisfies("1.43.0", ">= 1.39")                      -> bool
    core_line("1.43.5") -> "1.43";  rel_branch("1.43") -> "REL1_43";  line_of_rel_branch("REL1_43") -> "1.43"

Every malformed version or constraint raises :class:`mwrelease.errors.ConstraintError`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Final

from mwrelease.errors import ConstraintError

__all__ = [
    "Constraint",
    "ConstraintError",
    "Version",
    "core_line",
    "line_of_rel_branch",
    "normalize",
    "parse_constraint",
    "parse_version",
    "php_version_compare",
    "rel_branch",
    "satisfies",
]

# --------------------------------------------------------------------------------------------
# PHP primitives
# --------------------------------------------------------------------------------------------

_PHP_INT_MAX: Final = 2**63 - 1
_PHP_TRIM: Final = " \t\n\r\0\x0b"
_DIGITS: Final = frozenset("0123456789")
_ALNUM: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _strtolower(text: str) -> str:
    """PHP 8 ``strtolower``: ASCII only."""
    return text.translate(_LOWER)


def _isdigit(ch: str) -> bool:
    return ch in _DIGITS


def _canonicalize(version: str) -> str:
    """PHP's ``php_canonicalize_version``: ``-_+`` become dots, digit/letter boundaries get a dot."""
    if not version:
        return ""
    out = [version[0]]
    lp = version[0]
    for ch in version[1:]:
        if ch in "-_+":
            if out[-1] != ".":
                out.append(".")
        elif (not _isdigit(lp) and lp != "." and _isdigit(ch)) or (
            _isdigit(lp) and not _isdigit(ch) and ch != "."
        ):
            if out[-1] != ".":
                out.append(".")
            out.append(ch)
        elif ch not in _ALNUM:
            if out[-1] != ".":
                out.append(".")
        else:
            out.append(ch)
        lp = ch
    return "".join(out)


# (prefix, order): PHP compares with strncmp(form, prefix, strlen(prefix)), first hit wins.
_SPECIAL_FORMS: Final = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)


def _special_order(form: str) -> int:
    for prefix, order in _SPECIAL_FORMS:
        if form.startswith(prefix):
            return order
    return -1


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def _strtol(piece: str) -> int:
    """C ``strtol`` on a piece that starts with a digit (saturates at LONG_MAX)."""
    end = 0
    while end < len(piece) and _isdigit(piece[end]):
        end += 1
    return min(int(piece[:end]), _PHP_INT_MAX)


def php_version_compare(version1: str, version2: str) -> int:
    """PHP's ``version_compare($a, $b)`` (returns -1, 0 or 1), ported from ext/standard/versioning.c."""
    if not version1 or not version2:
        if not version1 and not version2:
            return 0
        return 1 if version1 else -1
    ver1 = version1 if version1[0] == "#" else _canonicalize(version1)
    ver2 = version2 if version2[0] == "#" else _canonicalize(version2)
    # p = start of the current piece, n = index of the dot ending it (None: last piece)
    p1 = p2 = 0
    n1: int | None = 0
    n2: int | None = 0
    compare = 0
    while p1 < len(ver1) and p2 < len(ver2) and n1 is not None and n2 is not None:
        d1 = ver1.find(".", p1)
        d2 = ver2.find(".", p2)
        n1 = d1 if d1 >= 0 else None
        n2 = d2 if d2 >= 0 else None
        piece1 = ver1[p1:n1]
        piece2 = ver2[p2:n2]
        dig1 = bool(piece1) and _isdigit(piece1[0])
        dig2 = bool(piece2) and _isdigit(piece2[0])
        if dig1 and dig2:
            compare = _sign(_strtol(piece1) - _strtol(piece2))
        elif not dig1 and not dig2:
            compare = _sign(_special_order(piece1) - _special_order(piece2))
        elif dig1:
            compare = _sign(_special_order("#N#") - _special_order(piece2))
        else:
            compare = _sign(_special_order(piece1) - _special_order("#N#"))
        if compare != 0:
            break
        if n1 is not None:
            p1 = n1 + 1
        if n2 is not None:
            p2 = n2 + 1
    if compare == 0:
        if n1 is not None:
            rest = ver1[p1:]
            compare = 1 if rest[:1] and _isdigit(rest[0]) else php_version_compare(rest, "#N#")
        elif n2 is not None:
            rest = ver2[p2:]
            compare = -1 if rest[:1] and _isdigit(rest[0]) else php_version_compare("#N#", rest)
    return compare


def _php_int_plus(number: str, increment: int) -> str:
    """``(string) ($numericString + $increment)`` in PHP, including the float overflow."""
    value = int(number)
    if value <= _PHP_INT_MAX and value + increment <= _PHP_INT_MAX:
        return str(value + increment)
    text = "%.14G" % (float(value) + increment)  # PHP casts floats to string with precision=14
    mantissa, _, exponent = text.partition("E")
    if exponent:
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{exponent}"
    return mantissa


# --------------------------------------------------------------------------------------------
# composer/semver VersionParser
# --------------------------------------------------------------------------------------------

_A = re.ASCII
_AI = re.ASCII | re.IGNORECASE
_MODIFIER: Final = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_STABILITIES: Final = r"stable|RC|beta|alpha|dev"

_RE_ALIAS = re.compile(r"^([^,\s]++) ++as ++([^,\s]++)$", _A)
_RE_FLAG_SUFFIX = re.compile(r"@(?:" + _STABILITIES + r")$", _AI)
_RE_BUILD = re.compile(r"^([^,\s+]++)\+[^\s]++$", _A)
_RE_CLASSICAL = re.compile(r"^v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER + r"$", _AI)
_RE_DATE = re.compile(r"^v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?)" + _MODIFIER + r"$", _AI)
_RE_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev$", _AI)
_RE_BRANCH = re.compile(r"^v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?$", _AI)
_RE_STABILITY = re.compile(_MODIFIER + r"(?:\+.*)?$", _AI)
_RE_REF = re.compile(r"#.+$", _A)

_RE_OR_SPLIT = re.compile(r"\s*\|\|?\s*", _A)
# composer: (?<!^|as|[=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)  (Python needs one lookbehind per width)
_RE_AND_SPLIT = re.compile(r"(?<!^)(?<!as)(?<![=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)", _A)
_RE_C_FLAG = re.compile(r"^([^,\s]*?)@(" + _STABILITIES + r")$", _AI)
_RE_C_REF = re.compile(r"^(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+$", _AI)
_RE_C_ANY = re.compile(r"^(v)?[xX*](\.[xX*])*$", _AI)
_VERSION_RE: Final = (
    r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?(?:" + _MODIFIER + r"|\.([xX*][.-]?dev))(?:\+[^\s]+)?"
)
_RE_C_TILDE = re.compile(r"^~>?" + _VERSION_RE + r"$", _AI)
_RE_C_CARET = re.compile(r"^\^" + _VERSION_RE + r"($)", _AI)
_RE_C_XRANGE = re.compile(r"^v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++$", _A)
_RE_C_HYPHEN = re.compile(r"^(?P<from>" + _VERSION_RE + r") +- +(?P<to>" + _VERSION_RE + r")($)", _AI)
_RE_C_BASIC = re.compile(r"^(<>|!=|>=?|<=?|==?)?\s*(.*)", _A)
_RE_C_DEVNAME = re.compile(r"^[0-9a-zA-Z\-./]+$", _A)
_RE_C_HAS_MODIFIER = re.compile(r"-" + _MODIFIER + r"$", _A)


class _Invalid(Exception):
    """Internal: composer would throw UnexpectedValueException with this message."""


def _g(match: re.Match[str], group: int | str) -> str:
    """A group as PHP's preg_match reports it: unmatched groups are ''."""
    value = match.group(group)
    return value if value is not None else ""


def _expand_stability(stability: str) -> str:
    stability = _strtolower(stability)
    return {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}.get(stability, stability)


def _normalize_branch(name: str) -> str:
    name = name.strip(_PHP_TRIM)
    m = _RE_BRANCH.match(name)
    if m:
        version = ""
        for i in range(1, 5):
            part = m.group(i)
            version += part.replace("*", "x").replace("X", "x") if part is not None else ".x"
        return version.replace("x", "9999999") + "-dev"
    return "dev-" + name


# A large resolve parses thousands of constraints whose parts recur ("1.2.0", ">= 2.0"): both steps are pure,
# so they are remembered (errors are not: an invalid text is parsed again, and raises again).
@functools.lru_cache(maxsize=8192)
def _normalize(version: str) -> str:
    """``VersionParser::normalize``; raises _Invalid."""
    version = version.strip(_PHP_TRIM)
    orig = version
    m = _RE_ALIAS.match(version)
    if m:
        version = m.group(1)
    m = _RE_FLAG_SUFFIX.search(version)
    if m:
        version = version[: len(version) - len(m.group(0))]
    if version in ("master", "trunk", "default"):
        version = "dev-" + version
    if _strtolower(version[:4]) == "dev-":
        return "dev-" + version[4:]
    m = _RE_BUILD.match(version)
    if m:
        version = m.group(1)

    index = 0
    m = _RE_CLASSICAL.match(version)
    if m:
        version = m.group(1) + (_g(m, 2) or ".0") + (_g(m, 3) or ".0") + (_g(m, 4) or ".0")
        index = 5
    else:
        m = _RE_DATE.match(version)
        if m:
            version = re.sub(r"[^0-9]", ".", m.group(1))
            index = 2
    if m and index:
        stability = _g(m, index)
        if stability:
            if stability == "stable":
                return version
            number = _g(m, index + 1)
            version += "-" + _expand_stability(stability) + (number.lstrip(".-") if number else "")
        if _g(m, index + 2):
            version += "-dev"
        return version

    m = _RE_DEV_SUFFIX.search(version)
    if m:
        normalized = _normalize_branch(m.group(1))
        if "dev-" not in normalized:
            return normalized

    raise _Invalid(f'Invalid version string "{orig}"')


def _parse_stability(version: str) -> str:
    """``VersionParser::parseStability``."""
    version = _RE_REF.sub("", version)
    if version.startswith("dev-") or version.endswith("-dev"):
        return "dev"
    m = _RE_STABILITY.search(_strtolower(version))
    if m is None:  # pragma: no cover - the pattern can always match the empty tail
        return "stable"
    if m.group(3):
        return "dev"
    word = m.group(1) or ""
    if word in ("beta", "b"):
        return "beta"
    if word in ("alpha", "a"):
        return "alpha"
    if word == "rc":
        return "RC"
    return "stable"


# A simple constraint: (operator, normalised version); operator is one of == != < <= > >=.
# None stands for composer's MatchAllConstraint ("*").
_Simple = tuple[str, str] | None
_OPS: Final = {"=": "==", "==": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "<>": "!=", "!=": "!="}


def _manipulate(parts: list[str], position: int, increment: int = 0, pad: str = "0") -> str:
    """``VersionParser::manipulateVersionString`` (parts[1..4] are the numeric groups)."""
    parts = list(parts)
    for i in range(4, 0, -1):
        if i > position:
            parts[i] = pad
        elif i == position and increment:
            parts[i] = _php_int_plus(parts[i], increment)
    return f"{parts[1]}.{parts[2]}.{parts[3]}.{parts[4]}"


def _parse_single(constraint: str) -> list[_Simple]:
    """``VersionParser::parseConstraint`` (one AND member); raises _Invalid."""
    m = _RE_ALIAS.match(constraint)
    if m:
        constraint = m.group(1)

    stability_modifier = ""
    m = _RE_C_FLAG.match(constraint)
    if m:
        constraint = m.group(1) if m.group(1) != "" else "*"
        if m.group(2) != "stable":
            stability_modifier = m.group(2)

    m = _RE_C_REF.match(constraint)
    if m:
        constraint = m.group(1)

    m = _RE_C_ANY.match(constraint)
    if m:
        if m.group(1) or m.group(2):
            return [(">=", "0.0.0.0-dev")]
        return [None]

    m = _RE_C_TILDE.match(constraint)
    if m:
        if constraint.startswith("~>"):
            raise _Invalid(
                f'Could not parse version constraint {constraint}: Invalid operator "~>", '
                'you probably meant to use the "~" operator'
            )
        if _g(m, 4):
            position = 4
        elif _g(m, 3):
            position = 3
        elif _g(m, 2):
            position = 2
        else:
            position = 1
        if _g(m, 8):
            position += 1
        suffix = "" if (_g(m, 5) or _g(m, 7) or _g(m, 8)) else "-dev"
        low = _normalize((constraint + suffix)[1:])
        parts = ["", _g(m, 1), _g(m, 2), _g(m, 3), _g(m, 4)]
        high = _manipulate(parts, max(1, position - 1), 1) + "-dev"
        return [(">=", low), ("<", high)]

    m = _RE_C_CARET.match(constraint)
    if m:
        if m.group(1) != "0" or not _g(m, 2):
            position = 1
        elif m.group(2) != "0" or not _g(m, 3):
            position = 2
        else:
            position = 3
        suffix = "" if (_g(m, 5) or _g(m, 7) or _g(m, 8)) else "-dev"
        low = _normalize((constraint + suffix)[1:])
        parts = ["", _g(m, 1), _g(m, 2), _g(m, 3), _g(m, 4)]
        high = _manipulate(parts, position, 1) + "-dev"
        return [(">=", low), ("<", high)]

    m = _RE_C_XRANGE.match(constraint)
    if m:
        if _g(m, 3):
            position = 3
        elif _g(m, 2):
            position = 2
        else:
            position = 1
        parts = ["", _g(m, 1), _g(m, 2), _g(m, 3), ""]
        low = _manipulate(parts, position) + "-dev"
        high = _manipulate(parts, position, 1) + "-dev"
        if low == "0.0.0.0-dev":
            return [("<", high)]
        return [(">=", low), ("<", high)]

    m = _RE_C_HYPHEN.match(constraint)
    if m:
        low_suffix = "" if (_g(m, 6) or _g(m, 8) or _g(m, 9)) else "-dev"
        low = _normalize(m.group("from")) + low_suffix
        if (_g(m, 12) and _g(m, 13)) or _g(m, 15) or _g(m, 17) or _g(m, 18):
            return [(">=", low), ("<=", _normalize(m.group("to")))]
        parts = ["", _g(m, 11), _g(m, 12), _g(m, 13), _g(m, 14)]
        _normalize(m.group("to"))  # validate
        high = _manipulate(parts, 1 if not _g(m, 12) else 2, 1) + "-dev"
        return [(">=", low), ("<", high)]

    m = _RE_C_BASIC.match(constraint)
    error: _Invalid | None = None
    if m:
        operator, text = _g(m, 1), _g(m, 2)
        try:
            try:
                version = _normalize(text)
            except _Invalid:
                if text.endswith("-dev") and _RE_C_DEVNAME.match(text):
                    version = _normalize("dev-" + text[:-4])
                else:
                    raise
            op = operator or "="
            if op not in ("==", "=") and stability_modifier and _parse_stability(version) == "stable":
                version += "-" + stability_modifier
            elif (
                op in ("<", ">=")
                and not _RE_C_HAS_MODIFIER.search(_strtolower(text))
                and not text.startswith("dev-")
            ):
                version += "-dev"
            return [(_OPS[op], version)]
        except _Invalid as exc:
            error = exc

    message = f"Could not parse version constraint {constraint}"
    if error is not None:
        message += f": {error}"
    raise _Invalid(message)


# The most common member, "OP 1.2.3" (an optional operator, then one to four dot-separated numbers, the first
# of at most five digits), without trying every pattern first: _parse_single ends in its last branch for it,
# with the version as _RE_CLASSICAL normalises it (padded with ".0" to four numbers, digits kept verbatim) and
# "-dev" after "<" and ">=" (no modifier, no stability flag). The parses of tests/unit/test_versions.py and
# the composer/semver oracle test (tests/integration/test_semver_oracle.py) go through it.
_RE_PLAIN_SINGLE = re.compile(r"(<>|!=|>=?|<=?|==?)?\s*(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?", _A)


@functools.lru_cache(maxsize=8192)
def _parse_single_cached(constraint: str) -> tuple[_Simple, ...]:
    m = _RE_PLAIN_SINGLE.fullmatch(constraint)
    if m is not None:
        op = m.group(1) or "="
        version = m.group(2) + (m.group(3) or ".0") + (m.group(4) or ".0") + (m.group(5) or ".0")
        return ((_OPS[op], version + "-dev" if op in ("<", ">=") else version),)
    return tuple(_parse_single(constraint))


def _simple_str(simple: _Simple) -> str:
    return "*" if simple is None else f"{simple[0]} {simple[1]}"


def _parse_groups(text: str) -> tuple[tuple[_Simple, ...], ...]:
    """``VersionParser::parseConstraints`` + ``MultiConstraint::create``: OR of AND groups."""
    groups: list[tuple[_Simple, ...]] = []
    text = text.strip(_PHP_TRIM)
    # (a split needs a "|", or a space or comma: without one, the pattern's scan finds nothing to split at)
    for or_part in _RE_OR_SPLIT.split(text) if "|" in text else (text,):
        members: list[_Simple] = []
        for and_part in _RE_AND_SPLIT.split(or_part) if " " in or_part or "," in or_part else (or_part,):
            members.extend(_parse_single_cached(and_part))
        groups.append(tuple(members))
    return _optimize_or(groups)


def _optimize_or(groups: list[tuple[_Simple, ...]]) -> tuple[tuple[_Simple, ...], ...]:
    """``MultiConstraint::optimizeConstraints``: [>= a < b] || [>= b < c] becomes [>= a < c].

    Composer does this without checking a <= b <= c, so it changes the meaning of groups that
    are empty or out of order; we mirror it.
    """
    if len(groups) < 2:
        return tuple(groups)

    def range_pair(group: tuple[_Simple, ...]) -> tuple[str, str] | None:
        if len(group) != 2 or group[0] is None or group[1] is None:
            return None
        (op0, v0), op1 = group[0], group[1][0]
        if op0 == ">=" and op1.startswith("<"):
            return (v0, _simple_str(group[1])[2:])
        return None

    left = groups[0]
    merged: list[tuple[_Simple, ...]] = []
    optimized = False
    for right in groups[1:]:
        lp, rp = range_pair(left), range_pair(right)
        if lp is not None and rp is not None and lp[1] == rp[0]:
            optimized = True
            left = (left[0], right[1])
        else:
            merged.append(left)
            left = right
    if optimized:
        merged.append(left)
        return tuple(merged)
    return tuple(groups)


def _is_branch(normalized: str) -> bool:
    return normalized.startswith("dev-")


def _compare_with(op: str, result: int) -> bool:
    if op == "==":
        return result == 0
    if op == "!=":
        return result != 0
    if op == "<":
        return result < 0
    if op == "<=":
        return result <= 0
    if op == ">":
        return result > 0
    return result >= 0  # ">="


def _simple_allows(simple: _Simple, version: str) -> bool:
    """``Constraint::matchSpecific`` against ``new Constraint('==', $version)``."""
    if simple is None:
        return True
    op, bound = simple
    version_branch, bound_branch = _is_branch(version), _is_branch(bound)
    if op == "!=":
        if version_branch or bound_branch:
            return version != bound
        return php_version_compare(version, bound) != 0
    if version_branch and bound_branch:
        return op == "==" and version == bound
    if version_branch or bound_branch:
        return False
    return _compare_with(op, php_version_compare(version, bound))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Composer's normalised form of a version ("1.39" -> "1.39.0.0"); raises ConstraintError."""
    return parse_version(text).normalized


def _sort_key(normalized: str) -> tuple[int, tuple[tuple[int, int], ...] | str]:
    """A key that orders numbered versions exactly like PHP's version_compare.

    Each canonical piece becomes (4, number) or (special-form order, 0); a terminator (4, -1)
    reproduces version_compare's rule for the longer version (a further number makes it newer,
    a further word such as "dev" or "alpha" older, "patch"/"pl"/"p" newer). Branches
    ("dev-foo") are not ordered by composer; we sort them after every numbered version, by name.
    """
    if _is_branch(normalized):
        return (1, normalized)
    plain = _RE_PLAIN.fullmatch(normalized)
    if plain:  # the usual "1.2.0.0" or "1.2.0.0-dev": _canonicalize would give "1.2.0.0" and "1.2.0.0.dev"
        numbers = [(4, min(int(p), _PHP_INT_MAX)) for p in plain.group(1).split(".")]
        return (0, (*numbers, *(((0, 0),) if plain.group(2) else ()), (4, -1)))
    return (0, _canonical_pieces(normalized))


def _canonical_pieces(normalized: str) -> tuple[tuple[int, int], ...]:
    pieces: list[tuple[int, int]] = []
    for piece in _canonicalize(normalized).split("."):
        if piece and _isdigit(piece[0]):
            pieces.append((4, _strtol(piece)))
        else:
            pieces.append((_special_order(piece), 0))
    pieces.append((4, -1))
    return tuple(pieces)


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A version as composer normalises it: "1.39" -> 1.39.0.0, "1.44.0-rc.1" -> 1.44.0.0-RC1.

    Ordering and equality follow PHP's version_compare on the normalised form
    (dev < alpha < beta < RC < stable < patch, numbers compared numerically). ``str()`` gives
    back the original text; ``normalized`` is composer's string.
    """

    text: str
    normalized: str
    _key: tuple[int, tuple[tuple[int, int], ...] | str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", _sort_key(self.normalized))

    @classmethod
    def parse(cls, text: str) -> Version:
        return parse_version(text)

    @property
    def is_branch(self) -> bool:
        """True for "dev-<name>" branch versions (they only match constraints naming them)."""
        return _is_branch(self.normalized)

    @property
    def stability(self) -> str:
        """Composer's stability: "dev", "alpha", "beta", "RC" or "stable" (parseStability)."""
        return _parse_stability(self.normalized)

    @property
    def release(self) -> tuple[int, ...]:
        """The numeric part: (1, 43, 0, 0) for "1.43.0-alpha"; () for a dev-branch."""
        if self.is_branch:
            return ()
        head = self.normalized.split("-", 1)[0]
        return tuple(_strtol(p) for p in head.split(".") if p and _isdigit(p[0]))

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)


@functools.lru_cache(maxsize=4096)
def _parse_version_cached(text: str) -> Version:
    try:
        normalized = _normalize(text)
    except _Invalid as exc:
        raise ConstraintError(
            f'Invalid version "{text}": {exc}.',
            hint='Use a version such as "1.43.0", "1.44.0-alpha", "1.44.0-rc.1" or "dev-master".',
        ) from None
    return Version(text, normalized)


def parse_version(text: str) -> Version:
    """Parse a version the way MediaWiki's VersionChecker does (composer normalize); cached."""
    if not isinstance(text, str):
        raise ConstraintError(f"Invalid version {text!r}: expected a string, got {type(text).__name__}.")
    return _parse_version_cached(text)


@dataclass(frozen=True)
class Constraint:
    """A parsed Composer constraint: an OR of AND groups of simple comparisons."""

    text: str
    groups: tuple[tuple[tuple[str, str] | None, ...], ...] = field(repr=False, compare=False)

    def allows(self, version: Version | str) -> bool:
        """True when MediaWiki's VersionChecker would accept ``version`` for this constraint."""
        normalized = (version if isinstance(version, Version) else parse_version(version)).normalized
        return any(all(_simple_allows(s, normalized) for s in group) for group in self.groups)

    @property
    def normalized(self) -> str:
        """Composer's rendering, e.g. "[>= 1.39.0.0-dev < 1.40.0.0-dev]" (for messages and debugging)."""
        rendered = []
        for group in self.groups:
            inner = " ".join(_simple_str(s) for s in group)
            rendered.append(f"[{inner}]" if len(group) > 1 else inner)
        return rendered[0] if len(rendered) == 1 else "[" + " || ".join(rendered) + "]"

    def __str__(self) -> str:
        return self.text


@functools.lru_cache(maxsize=4096)
def _parse_constraint_cached(text: str) -> Constraint:
    try:
        groups = _parse_groups(text)
    except _Invalid as exc:
        raise ConstraintError(
            f'Invalid version constraint "{text}": {exc}.',
            hint=(
                'Use Composer syntax, e.g. ">= 1.39", "^1.2", "~1.43.0", "1.39.*", '
                '">= 1.36.4 < 1.37 || >= 1.37.2" or "1.0 - 2.0".'
            ),
        ) from None
    return Constraint(text, groups)


def parse_constraint(text: str) -> Constraint:
    """Parse a Composer constraint exactly as composer/semver 3.x does; cached (lru_cache)."""
    if not isinstance(text, str):
        raise ConstraintError(
            f"Invalid version constraint {text!r}: expected a string, got {type(text).__name__}."
        )
    return _parse_constraint_cached(text)


def satisfies(version: str, constraint: str) -> bool:
    """Does ``version`` meet ``constraint``, as MediaWiki's VersionChecker decides?"""
    return parse_constraint(constraint).allows(version)


_RE_PLAIN = re.compile(r"([0-9]+(?:\.[0-9]+)*)(-dev)?", _A)
_RE_LINE = re.compile(r"^([0-9]+)\.([0-9]+)$")
_RE_REL = re.compile(r"^REL([0-9]+)_([0-9]+)$")


def core_line(version: str) -> str:
    """The release line of a MediaWiki version: "1.43.5" -> "1.43", "1.44.0-alpha" -> "1.44"."""
    parsed = parse_version(version)
    release = parsed.release
    if len(release) < 2:
        raise ConstraintError(
            f'Cannot tell the release line of version "{version}": it has no major.minor numbers.',
            hint='Give a numbered version such as "1.43.5".',
        )
    return f"{release[0]}.{release[1]}"


def rel_branch(line: str) -> str:
    """The git release branch of a line: "1.43" -> "REL1_43"."""
    m = _RE_LINE.match(line) if isinstance(line, str) else None
    if m is None:
        raise ConstraintError(
            f"Invalid MediaWiki release line {line!r}: expected MAJOR.MINOR such as \"1.43\".",
            hint='Use core_line() to turn a full version like "1.43.5" into its line.',
        )
    return f"REL{int(m.group(1))}_{int(m.group(2))}"


def line_of_rel_branch(branch: str) -> str | None:
    """The release line of a git release branch: "REL1_43" -> "1.43"; None for other refs."""
    m = _RE_REL.match(branch) if isinstance(branch, str) else None
    if m is None:
        return None
    return f"{int(m.group(1))}.{int(m.group(2))}"
