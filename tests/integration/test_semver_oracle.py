"""mwrelease.versions against the real composer/semver, used exactly like MediaWiki's VersionChecker.

One PHP subprocess reads a JSON list of [constraint, version] pairs and prints, for each, whether
``$parser->parseConstraints($constraint)->matches(new Constraint('==', $parser->normalize($version)))``
holds, or "error" when composer throws UnexpectedValueException. Our verdicts must be identical,
including which strings are errors (ConstraintError).
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mwrelease.errors import ConstraintError
from mwrelease.versions import parse_constraint, parse_version

SEMVER_AUTOLOAD_CANDIDATES = [
    Path("/usr/share/php/Composer/Semver/autoload.php"),
]
METADATA_DIR = Path(__file__).parents[2].parent / "shared" / "data" / "extension-metadata"

PHP_ORACLE = r"""<?php
require $argv[1];
use Composer\Semver\VersionParser;
use Composer\Semver\Constraint\Constraint;

$parser = new VersionParser();
$pairs = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
$constraints = [];
$versions = [];
$out = [];
foreach ($pairs as [$c, $v]) {
    if (!array_key_exists($c, $constraints)) {
        try {
            $constraints[$c] = $parser->parseConstraints($c);
        } catch (UnexpectedValueException $e) {
            $constraints[$c] = 'error';
        } catch (Throwable $e) {
            $constraints[$c] = 'exception ' . get_class($e) . ': ' . $e->getMessage();
        }
    }
    if (!array_key_exists($v, $versions)) {
        try {
            // MediaWiki's VersionChecker::setCoreVersion / handleExtensionDependency
            $versions[$v] = new Constraint('==', $parser->normalize($v));
        } catch (UnexpectedValueException $e) {
            $versions[$v] = 'version-error';
        }
    }
    if (is_string($constraints[$c])) {
        $out[] = $constraints[$c];
    } elseif (is_string($versions[$v])) {
        $out[] = $versions[$v];
    } else {
        $out[] = $constraints[$c]->matches($versions[$v]);
    }
}
echo json_encode($out, JSON_THROW_ON_ERROR);
"""

VERSIONS = (
    [f"1.{minor}.0" for minor in range(35, 47)]
    + [
        "1.39.4",
        "1.39.10",
        "1.43.0-alpha",
        "1.40.0-alpha",
        "1.44.0-rc.1",
        "1.44.0-rc.2",
        "1.44.0-beta",
        "1.44.0-dev",
        "1.45.0-alpha.1",
        "1.31",
        "1.28.0",
        "7.4.33",
        "8.0.30",
        "8.1.0",
        "8.2.0",
        "8.4.1",
        "3.1.2",
        "4.2.0",
        "6.0.0-beta2",
        "0.3.1",
        "0.0.3",
        "2.0.0-RC1",
        "1.0.12",
        "1.0.0-patch1",
        "1.0.0",
        "v5.0.1",
        "1.39.x-dev",
        "1.x-dev",
        "dev-master",
        "dev-REL1_43",
    ]
)

# Building blocks for generated constraints (mostly valid; a few malformed ones on purpose).
OPERATORS = ["", "=", "==", ">=", ">", "<", "<=", "!=", "<>", "^", "~", ">= ", "< ", "<= ", "> ", "v", "^v", ">=v"]
PARTIALS = [
    "1", "1.39", "1.40", "1.43", "1.44", "1.39.4", "1.40.0", "1.43.0", "1.44.0.1", "0", "0.3", "0.0.3",
    "7.4", "8", "8.2", "8.4.1", "3.1", "4", "6.0.0", "2", "01.39", "1.039", "12345", "20240101",
]
STABILITIES = [
    "", "", "", "", "", "", "-alpha", "alpha", "-alpha1", "-beta2", "-b3", "b", "-rc.1", "-RC1", "RC2",
    "-rc", "-dev", "-patch", "-p1", "-pl2", "-stable", "-alpha.dev", "-beta-1.2", "+build.5", ".x-dev",
]
FLAGS = ["", "", "", "", "", "", "", "", "@stable", "@dev", "@beta", "@RC", "@alpha"]
WILDCARDS = [
    "*", "x", "X", "v*", "*.*", "1.*", "1.39.*", "1.x", "1.39.x", "1.39.*.*", "8.*", "0.*", "v1.*",
    "dev-master", "dev-REL1_43", "1.x-dev", "1.39.x-dev", "master", "@dev", "*@dev",
]
RANGES = [
    "1.0 - 2.0", "1.39 - 1.43", "1.39.1 - 1.43.2", "1.39-alpha - 1.43-beta", "1.39 - 1.43.x-dev", "1 - 2",
    "1.39.4 as 1.39.0", "dev-master#abc123", "1.x-dev#abc", "1.0@dev as 2.0", ">=1.0 <1.1 || >=1.1 <1.2",
    ">=2.0 <1.0 || >=1.0 <3.0", ">=1.44 <1.40 || >=1.40 <1.45", "^1.40 || ^2.0",
    "~1.39.0 || ~1.40.0 || ~1.41.0", ">= 1.36.4 < 1.37 || >= 1.37.2", "1.*,>=1.0.1", ">=1.0\t<2.0",
    ">=1.0\n<2.0", "1.0\n2.0", "1.0.0.0.0", "1.0.0-beta.1.2.3", "^99999999999999999999.1",
    "^0.99999999999999999999", "~1.9223372036854775807", "1.0.0.99999999999999999999",
]
MALFORMED = [
    "", " ", "||", ">=", "abc", ".1.39", "1..39", "~>1.2", ">== 1.0", "=< 1.0", "=>1.0", "1.0,", ",1.0",
    "1.0 ,, 2.0", "1.0 ||", "|| 1.0", "> 1.0 <", "^", "~", "1.0 -2.0", "1.0- 2.0", "1.0-foo", ">=1.0@foo",
    "1234567890123456789012", "1.0 - ", "v", "1.0 as", "1.2.3.4.5",
]
# Look malformed, but composer accepts them (so must we).
ODD_BUT_VALID = [
    "1.39.", "1.0-", "123456", "foo-dev", ">=foo-dev", "dev-", "1.0 - 2.0 ", " >= 1.39 ", "~1.0-stable",
    ">=1.39 as 1.40",
]
LITERALS = WILDCARDS + RANGES + MALFORMED + ODD_BUT_VALID


def _single(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(MALFORMED)
    if roll < 0.13:
        return rng.choice(WILDCARDS + RANGES + ODD_BUT_VALID)
    if roll < 0.20:
        low = rng.choice(PARTIALS) + rng.choice(STABILITIES)
        high = rng.choice(PARTIALS) + rng.choice(STABILITIES)
        return f"{low} - {high}"
    return rng.choice(OPERATORS) + rng.choice(PARTIALS) + rng.choice(STABILITIES) + rng.choice(FLAGS)


def _metadata_constraints() -> list[str]:
    found: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)

    for path in sorted(METADATA_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for ref in data.get("refs") or []:
            requires = (ref.get("extension_json") or {}).get("requires") or {}
            add(requires.get("MediaWiki"))
            for section in ("platform", "extensions", "skins"):
                entries = requires.get(section)
                if isinstance(entries, dict):
                    for value in entries.values():
                        add(value)
            for value in (ref.get("composer_require") or {}).values():
                add(value)
    return sorted(found)


def _generated_constraints(count: int = 3000, seed: int = 20261122) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        groups = []
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            members = [_single(rng) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
            groups.append(rng.choice([" ", ",", ", ", " , ", "  "]).join(members))
        out.add(rng.choice([" || ", "||", " | ", "|"]).join(groups))
    return sorted(out)


def _find_autoloader() -> Path | None:
    for candidate in SEMVER_AUTOLOAD_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def _ask_composer(php: str, autoload: Path, pairs: list[tuple[str, str]], tmp_path: Path) -> list[Any]:
    script = tmp_path / "oracle.php"
    script.write_text(PHP_ORACLE, encoding="utf-8")
    proc = subprocess.run(
        [php, "-d", "display_errors=stderr", "-d", "memory_limit=1G", str(script), str(autoload)],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"php oracle failed ({proc.returncode}): {proc.stderr[-2000:]}"
    verdicts: list[Any] = json.loads(proc.stdout)
    assert len(verdicts) == len(pairs)
    return verdicts


def _ours(constraint: str, version: str) -> Any:
    try:
        parsed = parse_constraint(constraint)
    except ConstraintError:
        return "error"
    try:
        return parsed.allows(version)
    except ConstraintError:
        return "version-error"


def test_versions_agree_with_composer_semver(tmp_path: Path) -> None:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php (php-cli) is not installed")
    autoload = _find_autoloader()
    if autoload is None:
        pytest.skip("composer/semver autoloader not found (Debian package php-composer-semver)")

    metadata = _metadata_constraints()
    generated = _generated_constraints()
    ordering = [f"{op}{v}" for v in VERSIONS for op in ("==", ">", "<=", "!=")]
    constraints = sorted(set(metadata) | set(generated) | set(LITERALS) | set(ordering))
    pairs = list(itertools.product(constraints, VERSIONS))
    verdicts = _ask_composer(php, autoload, pairs, tmp_path)

    exceptions = sorted({v for v in verdicts if isinstance(v, str) and v.startswith("exception")})
    assert not exceptions, f"composer threw something other than UnexpectedValueException: {exceptions[:5]}"

    disagreements = []
    for (constraint, version), expected in zip(pairs, verdicts):
        ours = _ours(constraint, version)
        if ours != expected:
            disagreements.append(f"{constraint!r} vs {version!r}: composer={expected!r} ours={ours!r}")

    # Version's total order must be composer's (version_compare on normalised strings).
    verdict = dict(zip(pairs, verdicts))
    for a, b in itertools.product(VERSIONS, VERSIONS):
        va, vb = parse_version(a), parse_version(b)
        if va.is_branch or vb.is_branch:
            continue
        if (va > vb) != verdict[(f">{b}", a)] or (va == vb) != verdict[(f"=={b}", a)]:
            disagreements.append(f"ordering {a!r} vs {b!r}: composer > {verdict[(f'>{b}', a)]}, == {verdict[(f'=={b}', a)]}")

    errors = sum(1 for v in verdicts if v == "error")
    print(
        f"\ncompared {len(pairs)} (constraint, version) pairs with composer/semver: "
        f"{len(constraints)} constraints ({len(metadata)} from extension metadata, "
        f"{len(generated)} generated) x {len(VERSIONS)} versions; "
        f"{errors} error verdicts; {len(disagreements)} disagreements"
    )
    assert len(metadata) > 0, f"no constraints found under {METADATA_DIR}"
    assert not disagreements, f"{len(disagreements)} disagreements, first ones:\n" + "\n".join(disagreements[:40])
