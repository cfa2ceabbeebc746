"""Table-driven tests of mwrelease.versions (no PHP; the oracle test compares with composer itself).

Expected values were checked against composer/semver 3.3 (VersionParser + Constraint::matches,
the way MediaWiki's VersionChecker uses them) and PHP 8.2's version_compare.
"""

from __future__ import annotations

import itertools
import random

import pytest

from mwrelease.errors import ConstraintError
from mwrelease.versions import (
    Constraint,
    Version,
    core_line,
    line_of_rel_branch,
    parse_constraint,
    parse_version,
    php_version_compare,
    rel_branch,
    satisfies,
)

# --- versions -------------------------------------------------------------------------------

NORMALIZED = [
    ("1.39", "1.39.0.0", "stable"),
    ("1.39.4", "1.39.4.0", "stable"),
    ("1.43.0-alpha", "1.43.0.0-alpha", "alpha"),
    ("1.44.0-rc.1", "1.44.0.0-RC1", "RC"),
    ("1.44.0-RC1", "1.44.0.0-RC1", "RC"),
    ("1.44.0rc2", "1.44.0.0-RC2", "RC"),
    ("6.0.0-beta2", "6.0.0.0-beta2", "beta"),
    ("1.0-b3", "1.0.0.0-beta3", "beta"),
    ("1.0-a1", "1.0.0.0-alpha1", "alpha"),
    ("1.0-p1", "1.0.0.0-patch1", "stable"),
    ("1.0-pl2", "1.0.0.0-patch2", "stable"),
    ("1.0.0-beta.1.2", "1.0.0.0-beta1.2", "beta"),
    ("1.0.0-alpha.dev", "1.0.0.0-alpha-dev", "dev"),
    ("1.44.0-dev", "1.44.0.0-dev", "dev"),
    ("v1.2.3", "1.2.3.0", "stable"),
    ("V1.2.3", "1.2.3.0", "stable"),
    ("1.2.3.4", "1.2.3.4", "stable"),
    ("  1.2  ", "1.2.0.0", "stable"),
    ("1.0.0+build.5", "1.0.0.0", "stable"),
    ("1.0@dev", "1.0.0.0", "stable"),
    ("1.0-stable", "1.0.0.0", "stable"),
    ("1.x-dev", "1.9999999.9999999.9999999-dev", "dev"),
    ("1.39.x-dev", "1.39.9999999.9999999-dev", "dev"),
    ("dev-master", "dev-master", "dev"),
    ("DEV-Foo", "dev-Foo", "dev"),
    ("master", "dev-master", "dev"),
    ("2024-01-01", "2024.01.01", "stable"),
    ("20240101", "20240101", "stable"),
    ("1.0 as 2.0", "1.0.0.0", "stable"),
    # composer accepts a trailing separator and 6-digit "date" versions
    ("1.39.", "1.39.0.0", "stable"),
    ("1.0-", "1.0.0.0", "stable"),
    ("123456", "123456", "stable"),
]


@pytest.mark.parametrize(("text", "normalized", "stability"), NORMALIZED)
def test_version_normalization(text: str, normalized: str, stability: str) -> None:
    version = Version.parse(text)
    assert version.normalized == normalized
    assert version.stability == stability
    assert str(version) == text
    assert parse_version(text) == version


@pytest.mark.parametrize(
    "text", ["", " ", "abc", ".1.39", "1..39", "1.0-foo", "99999999999999999999999", "1.0.0.0.0", "dev", "v", "1.0-+", "x", "1.0 2.0"]
)
def test_invalid_versions_raise_constraint_error(text: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_version(text)
    assert f'"{text}"' in info.value.message


@pytest.mark.parametrize("value", [None, 1.39, ["1.39"], {"a": 1}])
def test_non_string_version_raises_constraint_error(value: object) -> None:
    with pytest.raises(ConstraintError):
        parse_version(value)  # type: ignore[arg-type]


ORDERED = [
    "1.38.0",
    "1.39.0-dev",
    "1.39.0-alpha",
    "1.39.0-alpha2",
    "1.39.0-beta",
    "1.39.0-beta.1",
    "1.39.0-rc.1",
    "1.39.0-RC2",
    "1.39",
    "1.39.0-patch1",
    "1.39.0.1",
    "1.39.4",
    "1.39.10",
    "1.40.0",
    "1.x-dev",
    "2.0.0",
]


def test_version_total_order() -> None:
    versions = [parse_version(v) for v in ORDERED]
    shuffled = versions[:]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == ORDERED
    for a, b in itertools.pairwise(versions):
        assert a < b and b > a and a <= b and a != b


def test_sort_key_shortcut_equals_canonical_pieces() -> None:
    """_sort_key takes "1.2.0.0" and "1.2.0.0-dev" without PHP's canonicalisation: the same keys."""
    from mwrelease import versions

    texts = [*ORDERED, "0", "007.1", "1.2.3.4-dev", "99999999999999999999999.1", "1.0.0.0-dev", "2025.03.01",
             "1.2-dev", "1.2.0.0-alpha", "1.2.0.0-dev1", "1.2..3", ".1.2"]
    rng = random.Random(13)
    texts += [".".join(str(rng.choice([0, 1, 9, 10, 123])) for _ in range(rng.randint(1, 5))) + rng.choice(["", "-dev"])
              for _ in range(200)]
    shortcut = 0
    for text in texts:
        try:
            normalized = versions.normalize(text)
        except ConstraintError:
            normalized = text  # the key of any text: the shortcut must agree there too
        if versions._RE_PLAIN.fullmatch(normalized):  # noqa: SLF001
            shortcut += 1
        assert versions._sort_key(normalized) == (0, versions._canonical_pieces(normalized)), text  # noqa: SLF001
    assert shortcut > 150


def test_version_equality_and_hash_follow_normalization() -> None:
    assert parse_version("1.39") == parse_version("1.39.0") == parse_version("v1.39.0.0")
    assert len({parse_version("1.39"), parse_version("1.39.0"), parse_version("1.39.0.0")}) == 1
    assert str(parse_version("1.39")) == "1.39"
    assert parse_version("1.44.0-rc.1") == parse_version("1.44.0RC1")
    assert parse_version("1.39.4").release == (1, 39, 4, 0)
    assert parse_version("dev-master").is_branch and parse_version("dev-master").release == ()
    # branches sort after every numbered version, by name (composer does not order them)
    assert parse_version("dev-a") < parse_version("dev-b")
    assert parse_version("99999.0") < parse_version("dev-a")


PHP_VERSION_COMPARE = [
    ("1.0", "1.0.0", -1),
    ("1.0.0-dev", "1.0.0-alpha", -1),
    ("1.0rc1", "1.0", -1),
    ("1.0pl1", "1.0", 1),
    ("1.0.0.0-patch1", "1.0.0.0", 1),
    ("1.0.0.0-RC1", "1.0.0.0-beta9", 1),
    ("1.10", "1.9", 1),
    ("1.0-BETA", "1.0-alpha", -1),  # unknown words sort below "dev"
    ("1.0.0.0-dev", "1.0.0.0", -1),
    ("1.0", "1.0a", 1),
    ("1.0", "1.0", 0),
    ("", "1", -1),
    ("", "", 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), PHP_VERSION_COMPARE)
def test_php_version_compare(a: str, b: str, expected: int) -> None:
    assert php_version_compare(a, b) == expected
    assert php_version_compare(b, a) == -expected


def test_version_order_is_php_version_compare() -> None:
    rng = random.Random(42)
    parts = ["0", "1", "2", "10", "39", "40"]
    suffixes = ["", "-dev", "-alpha", "-alpha2", "-beta", "-b1", "-rc.1", "-RC2", "-patch1", "-p2", "-alpha.dev"]
    texts = [
        ".".join(rng.choice(parts) for _ in range(rng.randint(1, 4))) + rng.choice(suffixes) for _ in range(300)
    ]
    versions = [parse_version(t) for t in texts]
    for a, b in zip(versions, versions[1:] + versions[:1]):
        expected = php_version_compare(a.normalized, b.normalized)
        assert (a < b, a == b, a > b) == (expected < 0, expected == 0, expected > 0), (a.normalized, b.normalized)


# --- constraints ----------------------------------------------------------------------------

# (constraint, version, allowed)
SATISFIES = [
    # plain comparisons and the implicit -dev of >= and <
    (">= 1.35.0", "1.35.0", True),
    (">= 1.35.0", "1.34.9", False),
    (">=1.35", "1.35.0", True),
    (">= 1.35", "1.43.5", True),
    (">=1.40", "1.40.0-alpha", True),
    (">=1.40", "1.40.0-dev", True),
    (">=1.40.0", "1.40.0-alpha", True),
    ("<1.40", "1.40.0-alpha", False),
    ("<1.40", "1.40.0-dev", False),
    ("<1.40", "1.39.10", True),
    ("<=1.40", "1.40.0-alpha", True),
    ("<=1.40", "1.40.0", True),
    ("<=1.40", "1.40.1", False),
    (">1.40", "1.40.0", False),
    (">1.40", "1.40.0.1", True),
    (">1.40", "1.40.0-patch1", True),
    (">1.0.12", "1.0.12", False),
    (">1.0.12", "1.0.13", True),
    ("1.39", "1.39.0", True),
    ("1.39", "1.39.4", False),
    ("=1.39.4", "1.39.4", True),
    ("==1.39.4", "1.39.4.0", True),
    ("!=1.39.4", "1.39.4", False),
    ("!=1.39.4", "1.39.5", True),
    ("<>1.39.4", "1.39.5", True),
    ("v1.39.4", "1.39.4", True),
    (">=v1.39", "1.39.0", True),
    ("1.26alpha", "1.26.0-alpha", True),
    (">= 1.26", "1.26alpha", True),  # from MediaWiki's own VersionCheckerTest
    (">= 1.26", "1.25.0", False),
    # stabilities in the constraint
    (">=1.44.0-rc.1", "1.44.0-rc.1", True),
    (">=1.44.0-rc.1", "1.44.0-beta", False),
    (">=1.0-rc1", "1.0.0-RC1", True),
    ("<1.44.0-beta", "1.44.0-alpha", True),
    ("<1.44.0-beta", "1.44.0-beta", False),
    ("6.0.0-beta2", "6.0.0-beta2", True),
    (">=6.0.0-b2", "6.0.0-beta2", True),
    (">=1.0-p1", "1.0.0-patch1", True),
    (">=1.0-p1", "1.0.0", False),
    (">=1.0-dev", "1.0.0-dev", True),
    # stability flags
    (">=1.40@dev", "1.40.0-dev", True),
    (">=1.40", "1.40.0-dev", True),
    (">=1.40@dev", "1.40.0-alpha", True),
    (">=1.40@beta", "1.40.0-alpha", False),
    (">=1.40@beta", "1.40.0-beta", True),
    ("1.40@dev", "1.40.0", True),
    ("1.40@stable", "1.40.0", True),
    ("*@dev", "0.0.1", True),
    ("@dev", "dev-master", True),
    # caret
    ("^1.39", "1.39.0-alpha", True),
    ("^1.39", "1.99.0", True),
    ("^1.39", "2.0.0-alpha", False),
    ("^1.0.12", "1.0.11", False),
    ("^0.3", "0.3.9", True),
    ("^0.3", "0.4.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^6", "6.9.9", True),
    ("^6", "7.0.0", False),
    # tilde
    ("~1.39", "1.43.0", True),
    ("~1.39", "2.0.0", False),
    ("~1.39.0", "1.39.9", True),
    ("~1.39.0", "1.40.0", False),
    ("~1.39.0", "1.40.0-dev", False),
    ("~1.39.0", "1.39.0-alpha", True),
    ("~1.39.0-beta", "1.39.0-alpha", False),
    ("~1.39.0-beta", "1.39.0-beta", True),
    ("~1.9.25", "1.9.24", False),
    ("~1", "1.99", True),
    ("~1", "2.0", False),
    # wildcards
    ("*", "1.39.4", True),
    ("*", "dev-master", True),
    ("x", "0.0.1", True),
    ("v*", "dev-master", False),
    ("v*", "0.0.0", True),
    ("1.39.*", "1.39.99", True),
    ("1.39.*", "1.40.0-alpha", False),
    ("1.39.*", "1.39.0-alpha", True),
    ("1.39.x", "1.39.4", True),
    ("1.*", "1.0.0", True),
    ("1.*", "2.0.0", False),
    ("0.*", "0.9", True),
    ("0.*", "1.0.0-dev", False),
    ("1.*,>=1.0.1", "1.0.0", False),
    ("1.*,>=1.0.1", "1.0.1", True),
    ("1.*,>=1.0.1", "2.0.0", False),
    # hyphen ranges: partial upper bounds are "up to the next release"
    ("1.0 - 2.0", "2.0.9", True),
    ("1.0 - 2.0", "2.1.0", False),
    ("1.0 - 2.0", "2.1.0-dev", False),
    ("1.0 - 2", "2.9", True),
    ("1.0 - 2", "3.0", False),
    ("1.0.0 - 2.1.0", "2.1.0", True),
    ("1.0.0 - 2.1.0", "2.1.1", False),
    ("1.0.0 - 2.1.0", "1.0.0-alpha", True),
    ("1.0-beta - 2.0", "1.0.0-alpha", False),
    ("1.0 - 2.0.0-beta", "2.0.0", False),
    # AND / OR
    (">= 1.36.4 < 1.37 || >= 1.37.2", "1.36.4", True),
    (">= 1.36.4 < 1.37 || >= 1.37.2", "1.36.3", False),
    (">= 1.36.4 < 1.37 || >= 1.37.2", "1.37.1", False),
    (">= 1.36.4 < 1.37 || >= 1.37.2", "1.37.2", True),
    (">= 1.36.4 < 1.37 || >= 1.37.2", "1.43.0", True),
    (">=1.39,<1.43", "1.42.9", True),
    (">=1.39, <1.43", "1.43.0", False),
    (">=1.39 , <1.43", "1.38.0", False),
    ("^2|^1.0.1", "1.0.1", True),
    ("^2|^1.0.1", "2.5.0", True),
    ("^2|^1.0.1", "3.0.0", False),
    ("^2.2.0|^1.0.1", "2.1.0", False),
    ("~6.5.1||~6.7.2||~6.8.2", "6.7.3", True),
    ("~6.5.1||~6.7.2||~6.8.2", "6.6.0", False),
    ("1.0.0 || 2.0.0", "2.0.0", True),
    ("1.0.0 || 2.0.0", "1.5.0", False),
    ("^5.1.0 || ^5.2.0", "5.1.5", True),
    (">=1.0 ,<2.0", "1.5", True),
    ("foo-dev", "dev-foo", True),  # composer recovers foo-dev as dev-foo
    (">=foo-dev", "dev-foo", False),
    # branches
    ("dev-master", "dev-master", True),
    ("dev-master", "1.0.0", False),
    ("dev-master#abc123", "dev-master", True),
    (">=1.0", "dev-master", False),
    ("!=1.0", "dev-master", True),
    ("1.x-dev", "1.x-dev", True),
    ("~1.x-dev", "1.x-dev", True),
    ("1.0.0 as 2.0.0", "1.0.0", True),
    ("1.0.0 as 2.0.0", "2.0.0", False),
    # platform requirements
    (">=7.4.3", "7.4.33", True),
    (">=8.1", "8.4.1", True),
    (">=8.1.0", "8.0.30", False),
    (">=5.5.9", "8.2.0", True),
]


@pytest.mark.parametrize(("constraint", "version", "allowed"), SATISFIES)
def test_satisfies(constraint: str, version: str, allowed: bool) -> None:
    assert satisfies(version, constraint) is allowed
    assert parse_constraint(constraint).allows(parse_version(version)) is allowed


# Composer's own rendering of the parsed constraint (Constraint.normalized mirrors __toString).
RENDERED = [
    (">=1.39", ">= 1.39.0.0-dev"),
    ("<1.40", "< 1.40.0.0-dev"),
    ("<=1.40", "<= 1.40.0.0"),
    ("1.39", "== 1.39.0.0"),
    ("^1.2", "[>= 1.2.0.0-dev < 2.0.0.0-dev]"),
    ("~1.2", "[>= 1.2.0.0-dev < 2.0.0.0-dev]"),
    ("~1.2.3", "[>= 1.2.3.0-dev < 1.3.0.0-dev]"),
    ("~1.0-beta", "[>= 1.0.0.0-beta < 2.0.0.0-dev]"),
    ("^0.3", "[>= 0.3.0.0-dev < 0.4.0.0-dev]"),
    ("1.0 - 2.0", "[>= 1.0.0.0-dev < 2.1.0.0-dev]"),
    ("1.0.0 - 2.1.0", "[>= 1.0.0.0-dev <= 2.1.0.0]"),
    ("1.39.*", "[>= 1.39.0.0-dev < 1.40.0.0-dev]"),
    ("0.*", "< 1.0.0.0-dev"),
    ("*", "*"),
    ("v*", ">= 0.0.0.0-dev"),
    (">=1.0-rc1", ">= 1.0.0.0-RC1-dev"),
    (">=1.0@beta", ">= 1.0.0.0-beta"),
    ("dev-master", "== dev-master"),
    ("1.x-dev", "== 1.9999999.9999999.9999999-dev"),
    (">= 1.36.4 < 1.37 || >= 1.37.2", "[[>= 1.36.4.0-dev < 1.37.0.0-dev] || >= 1.37.2.0-dev]"),
    (">=1.0 <1.1 || >=1.1 <1.2", "[>= 1.0.0.0-dev < 1.2.0.0-dev]"),
    ("^99999999999999999999.1", "[>= 99999999999999999999.1.9999999.9999999-dev < 1.0E+20.0.0.0-dev]"),
]


@pytest.mark.parametrize(("constraint", "rendered"), RENDERED)
def test_constraint_rendering(constraint: str, rendered: str) -> None:
    parsed = parse_constraint(constraint)
    assert isinstance(parsed, Constraint)
    assert parsed.normalized == rendered
    assert parsed.text == constraint == str(parsed)


def test_or_merge_quirk_is_mirrored() -> None:
    # composer merges [>= a < b] || [>= b < c] into [>= a < c] without checking a <= b,
    # so this constraint does not allow 1.5 (composer says no, we say no).
    assert not satisfies("1.5", ">=2.0 <1.0 || >=1.0 <3.0")
    assert satisfies("2.5", ">=2.0 <1.0 || >=1.0 <3.0")
    # without the shared bound there is no merge and 1.5 is allowed
    assert satisfies("1.5", ">=2.0 <1.0.1 || >=1.0 <3.0")


MALFORMED = [
    "",
    "   ",
    ">=",
    "abc",
    "1..39",
    "~>1.2",
    ">== 1.0",
    "=< 1.0",
    "=>1.0",
    "1.0,",
    "1.0 ||",
    "|| 1.0",
    "> 1.0 <",
    "^",
    "~",
    "1.0 -2.0",
    "1.0-foo",
    ">=1.0@foo",
    "1.2.3.4.5",
    "99999999999999999999999",
    ">=1.0 \t<2.0",
    ">=1.0\t<2.0",  # a tab is not an AND separator (only space and comma are)
    "1.0 - ",
    ">= 1.35 <",
    "1.0 as",
]


@pytest.mark.parametrize("constraint", MALFORMED)
def test_malformed_constraints_raise_constraint_error(constraint: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(constraint)
    assert f'"{constraint}"' in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("value", [None, 1.39, [">=1.39"], {">=": "1.39"}])
def test_non_string_constraint_raises_constraint_error(value: object) -> None:
    with pytest.raises(ConstraintError):
        parse_constraint(value)  # type: ignore[arg-type]


def test_satisfies_with_invalid_version_raises_constraint_error() -> None:
    with pytest.raises(ConstraintError):
        satisfies("not-a-version", ">= 1.39")


def test_parse_constraint_is_cached() -> None:
    assert parse_constraint(">= 1.39 <1.44") is parse_constraint(">= 1.39 <1.44")


# --- release lines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "line"),
    [("1.43.5", "1.43"), ("1.44.0-alpha", "1.44"), ("1.39", "1.39"), ("1.44.0-rc.1", "1.44"), ("v1.35.0", "1.35")],
)
def test_core_line(version: str, line: str) -> None:
    assert core_line(version) == line


@pytest.mark.parametrize("version", ["dev-master", "nonsense", ""])
def test_core_line_rejects(version: str) -> None:
    with pytest.raises(ConstraintError):
        core_line(version)


@pytest.mark.parametrize(("line", "branch"), [("1.43", "REL1_43"), ("1.39", "REL1_39"), ("1.5", "REL1_5")])
def test_rel_branch_round_trip(line: str, branch: str) -> None:
    assert rel_branch(line) == branch
    assert line_of_rel_branch(branch) == line


@pytest.mark.parametrize("line", ["1.43.5", "1", "REL1_43", "", "1.x"])
def test_rel_branch_rejects(line: str) -> None:
    with pytest.raises(ConstraintError):
        rel_branch(line)


@pytest.mark.parametrize("ref", ["master", "REL1_43_1", "wmf/1.43.0-wmf.1", "1.43", "rel1_43", ""])
def test_line_of_rel_branch_other_refs(ref: str) -> None:
    assert line_of_rel_branch(ref) is None
