"""A seeded synthetic extension universe in two equal forms, for the resolver benchmark (bench_resolver.py).

2,000 extensions x 12 release tags each, written as

- ``OUT/composer/packages.json``: a Composer repository (``"type": "composer"``, read offline through a
  ``file://`` URL) with one package ``mw/extNNNN`` per extension plus ``mediawiki/core`` at the target cores,
- ``OUT/catalog/ExtNNNN.json``: an mwrelease snapshot catalog (the format of shared/data/extension-metadata),
- ``OUT/cases/CASE/composer.json`` and ``OUT/cases/CASE/bundle.yaml``: the same request in both tools' words.

Both forms carry the same constraint strings (Composer evaluates them itself; mwrelease through
mwrelease/versions.py, whose oracle test holds it to composer/semver), so both answer the same question.

Properties (all from one ``random.Random(seed)``):

- real-world constraint shapes on dependencies and core: ``>=``, ``^``, ``~``, ``a.b.*``, ``>= a < b``,
  ``>= a <= b``, ``||`` backport gaps (``>= 1.2.4 < 1.3 || >= 1.3.2``) and ``^1 || ^2``;
- PHP floors (``>= 7.4`` … ``>= 8.3``; PHP 8.2 is targeted, so a few newest tags do not fit) and MediaWiki
  floors rising with each tag (the newest tags of many extensions need 1.44/1.45 and do not fit 1.43);
- dependency fan-out among extensions, skewed towards "library" extensions; extensions 0-999 depend only on
  lower-numbered ones (no cycles), extensions 1000-1999 also on each other (cycles);
- a planted solution: one fitting tag per extension whose requires admit every dependency's planted tag, so
  every request over fitting tags has an answer;
- newest-first conflicts: with probability ``CONFLICT`` an edge of a new tag excludes the dependency's newest
  fitting tag, so picking the newest fitting tag of everything breaks a few dozen edges per request
  (``broken_edges`` counts them; the benchmark prints the count).

    python benchmarks/universe.py OUT [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mwrelease.versions import parse_constraint, parse_version  # noqa: E402

N_EXT = 2000
N_REFS = 12
ACYCLIC = 1000  # extensions below this index depend only on lower-numbered ones
CONFLICT = 0.03
CORE = "1.43.0"
PHP = "8.2"
CORE_NOTHING_FITS = "1.26.0"


@dataclass(kw_only=True)
class Ref:
    version: str
    mediawiki: str
    php: str
    deps: dict[int, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Ext:
    index: int
    refs: list[Ref]  # oldest first
    planted: int = -1

    @property
    def name(self) -> str:
        return f"Ext{self.index:04d}"

    @property
    def package(self) -> str:
        return f"mw/ext{self.index:04d}"

    def fitting(self) -> list[int]:
        return [i for i, r in enumerate(self.refs) if fits(r)]

    def newest_fit(self) -> int:
        return self.fitting()[-1]


def allows(constraint: str, version: str) -> bool:
    return parse_constraint(constraint).allows(version)


def fits(ref: Ref, core: str = CORE, php: str = PHP) -> bool:
    return allows(ref.mediawiki, core) and allows(ref.php, php)


def versions(rng: random.Random) -> list[str]:
    major, minor, patch = rng.choice([0, 1, 1, 1, 2, 3]), rng.randrange(0, 5), rng.randrange(0, 4)
    out = []
    for _ in range(N_REFS):
        out.append(f"{major}.{minor}.{patch}")
        step = rng.random()
        if step < 0.55:
            patch += 1 + (rng.random() < 0.2)
        elif step < 0.88:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def core_constraint(rng: random.Random, i: int) -> str:
    """A MediaWiki floor rising with the tag's age; the newest tags of about half the extensions need > 1.43."""
    floor = 27 + i + rng.choice([0, 0, 0, 1, 2])
    if floor > 45:
        floor = 45
    shapes = [f">= 1.{floor}", f">= 1.{floor}.0", f"^1.{floor}", f"~1.{floor}", f">= 1.{floor} < 1.{floor + 4}"]
    if floor <= 43:  # some tags admit 1.43 only through a backport gap
        shapes.append(f">= 1.{floor}.4 < 1.{floor + 1} || >= 1.{min(floor + 1, 43)}")
    c = rng.choice(shapes)
    return c


def php_constraint(rng: random.Random, i: int) -> str:
    if i >= N_REFS - 1 and rng.random() < 0.25:
        return ">= 8.3"
    return rng.choice([">= 7.4", ">= 7.4.3", ">= 8.0", ">= 8.1", "^8.1", ">= 7.4 || ^8.0"][: 2 + i // 3])


def shape(rng: random.Random, vs: list[str], must: set[str], must_not: set[str]) -> str:
    """A constraint over the versions ``vs`` of one dependency admitting ``must`` and rejecting ``must_not``."""
    anchor = sorted(must, key=parse_version)[0] if must else rng.choice(vs)
    top = sorted(must, key=parse_version)[-1] if must else anchor
    ma, mi, pa = (int(x) for x in anchor.split("."))
    later = [v for v in vs if parse_version(v) > parse_version(top)]
    nxt = later[0] if later else f"{ma + 1}.0.0"
    excl = sorted(must_not, key=parse_version)
    shapes = [f">= {anchor}", f"^{anchor}", f"~{anchor}", f"~{ma}.{mi}", f"{ma}.{mi}.*", f">= {anchor} < {nxt}",
              f">= {anchor} <= {top}", f"^{ma}.{mi}", f"{ma}.x"]
    if excl:
        e = excl[0]
        em, en, ep = (int(x) for x in e.split("."))
        shapes += [f">= {anchor} < {e}", f"< {e}", f">= {anchor} < {em}.{en}.{ep} || >= {em}.{en}.{ep + 1}"]
    if ma > 0:
        shapes += [f"^{ma - 1}.0 || ^{anchor}", f">= {ma}.{max(mi - 1, 0)}.4 < {ma}.{mi} || >= {anchor}"]
    rng.shuffle(shapes)
    for s in shapes:
        if all(allows(s, v) for v in must) and not any(allows(s, v) for v in must_not):
            return s
    return " || ".join(sorted(must, key=parse_version)) if must else anchor


def fan_out(rng: random.Random) -> int:
    return rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 4])


def pick_dep(rng: random.Random, i: int) -> int:
    # Skewed towards low indices within the allowed range: a few "library" extensions many depend on.
    if i < ACYCLIC:
        return int((rng.random() ** 2) * i)
    if rng.random() < 0.7:
        return int((rng.random() ** 3) * ACYCLIC)
    # A neighbour in the cyclic half, before or after: small rings of extensions that require each other.
    return min(max(i + rng.randint(-8, 8), ACYCLIC), N_EXT - 1)


def generate(seed: int = 13) -> list[Ext]:
    rng = random.Random(seed)
    exts: list[Ext] = []
    for i in range(N_EXT):
        vs = versions(rng)
        refs = [Ref(version=v, mediawiki=core_constraint(rng, k), php=php_constraint(rng, k)) for k, v in enumerate(vs)]
        if not any(fits(r) for r in refs):
            refs[len(refs) // 2].mediawiki = ">= 1.35"
            refs[len(refs) // 2].php = ">= 7.4"
        exts.append(Ext(index=i, refs=refs))
    for e in exts:
        fit = e.fitting()
        e.planted = fit[-1] if rng.random() < 0.6 or len(fit) == 1 else rng.choice(fit[:-1])
    for e in exts:
        if e.index == 0:
            continue
        base = {pick_dep(rng, e.index) for _ in range(fan_out(rng) if e.index < ACYCLIC else fan_out(rng) // 2 + 1)} - {e.index}
        extra = pick_dep(rng, e.index)
        for k, ref in enumerate(e.refs):
            deps = set(base) | ({extra} if k >= 8 and extra != e.index else set())
            for d in sorted(deps):
                dep = exts[d]
                dvs = [r.version for r in dep.refs]
                must: set[str] = set()
                must_not: set[str] = set()
                if k == e.planted:
                    must.add(dvs[dep.planted])
                if k >= e.planted:
                    newest = dvs[dep.newest_fit()]
                    if rng.random() < CONFLICT and newest not in must:
                        must_not.add(newest)
                    else:
                        must.add(newest)
                else:
                    must.add(dvs[rng.randrange(0, dep.planted + 1)])
                ref.deps[d] = shape(rng, dvs, must, must_not)
    return exts


@dataclass(kw_only=True)
class Case:
    name: str
    roots: list[int]
    core: str = CORE
    pin: tuple[int, str] | None = None  # (extension, version) the request pins
    cycles: bool = False
    expect: str = "answer"  # "answer" | "impossible"


def closure(exts: list[Ext], roots: list[int], pick: dict[int, int]) -> set[int]:
    seen, todo = set(roots), list(roots)
    while todo:
        e = todo.pop()
        for d in exts[e].refs[pick[e]].deps:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def broken_edges(exts: list[Ext], roots: list[int]) -> int:
    """Dependency edges broken when every extension takes its newest fitting tag."""
    pick = {e.index: e.newest_fit() for e in exts}
    n = 0
    for i in closure(exts, roots, pick):
        for d, c in exts[i].refs[pick[i]].deps.items():
            n += not allows(c, exts[d].refs[pick[d]].version)
    return n


def has_cycle(exts: list[Ext], nodes: set[int], pick: dict[int, int]) -> bool:
    state: dict[int, int] = {}
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(exts[start].refs[pick[start]].deps))]
        state[start] = 1
        while stack:
            n, it = stack[-1]
            d = next(it, None)
            if d is None:
                state[n] = 2
                stack.pop()
            elif state.get(d) == 1:
                return True
            elif d not in state:
                state[d] = 1
                stack.append((d, iter(exts[d].refs[pick[d]].deps)))
    return False


def cases(exts: list[Ext], seed: int = 13) -> list[Case]:
    rng = random.Random(seed + 1)
    acyclic, cyclic = list(range(1, ACYCLIC)), list(range(ACYCLIC, N_EXT))
    r100 = sorted(rng.sample(acyclic, 100))
    out = [Case(name="request-100", roots=r100, cycles=True),
           Case(name="request-300-cycles", roots=sorted(rng.sample(cyclic, 300)), cycles=True),
           Case(name="request-300-acyclic", roots=sorted(rng.sample(acyclic, 300)))]
    # A pin that cannot fit: a requested extension C whose every fitting tag requires A with a constraint
    # that rejects the pinned (fitting) tag of A. C is the last requested name, so a resolver that walks the
    # bundle in name order meets the conflict last.
    pinned = None
    for c in reversed(r100):
        for a in exts[c].refs[exts[c].planted].deps:
            for k in exts[a].fitting():
                v = exts[a].refs[k].version
                if all(a in exts[c].refs[j].deps and not allows(exts[c].refs[j].deps[a], v) for j in exts[c].fitting()):
                    pinned = (a, v)
                    break
            if pinned:
                break
        if pinned:
            break
    assert pinned, "no pin that cannot fit in this universe; try another seed"
    out.append(Case(name="request-100-bad-pin", roots=sorted(set(r100) | {pinned[0]}), pin=pinned, cycles=True,
                    expect="impossible"))
    out.append(Case(name="request-100-core-nothing-fits", roots=r100, core=CORE_NOTHING_FITS, cycles=True,
                    expect="impossible"))
    return out


def write(out: Path, exts: list[Ext], all_cases: list[Case]) -> None:
    (out / "catalog").mkdir(parents=True, exist_ok=True)
    (out / "composer").mkdir(parents=True, exist_ok=True)
    packages: dict[str, dict[str, object]] = {}
    for e in exts:
        refs = []
        versions_: dict[str, object] = {}
        for k, r in enumerate(reversed(e.refs)):
            requires: dict[str, object] = {"MediaWiki": r.mediawiki, "platform": {"php": r.php}}
            if r.deps:
                requires["extensions"] = {exts[d].name: c for d, c in r.deps.items()}
            refs.append({"ref": r.version, "ref_type": "tag", "commit": f"{e.index:04d}{k:02d}".ljust(40, "0"),
                         "commit_date": f"2025-{12 - k:02d}-01T00:00:00+00:00",
                         "extension_json": {"name": e.name, "version": r.version, "requires": requires, "manifest_version": 2},
                         "manifest_file": "extension.json", "composer_require": {"php": r.php}})
            require = {"mediawiki/core": r.mediawiki, "php": r.php, **{exts[d].package: c for d, c in r.deps.items()}}
            versions_[r.version] = {"name": e.package, "version": r.version, "type": "mediawiki-extension",
                                    "require": require,
                                    "dist": {"type": "zip", "url": f"file:///nonexistent/{e.package}-{r.version}.zip"}}
        (out / "catalog" / f"{e.name}.json").write_text(json.dumps(
            {"name": e.name, "repo": f"synthetic/{e.name}", "kind": "extension", "refs": refs}))
        packages[e.package] = versions_
    packages["mediawiki/core"] = {v: {"name": "mediawiki/core", "version": v, "type": "library",
                                      "dist": {"type": "zip", "url": "file:///nonexistent/core.zip"}}
                                  for v in (CORE, CORE_NOTHING_FITS)}
    (out / "composer" / "packages.json").write_text(json.dumps({"packages": packages}))
    for c in all_cases:
        d = out / "cases" / c.name
        d.mkdir(parents=True, exist_ok=True)
        require = {"mediawiki/core": c.core, **{exts[i].package: "*" for i in c.roots}}
        lines = [f"name: {c.name}", "core:", f"  lines: ['{'.'.join(c.core.split('.')[:2])}']", f"php: ['{PHP}']",
                 f"allow-cycles: {'true' if c.cycles else 'false'}", "extensions:"]
        for i in c.roots:
            if c.pin and c.pin[0] == i:
                require[exts[i].package] = c.pin[1]
                lines.append(f"  {exts[i].name}:\n    ref: '{c.pin[1]}'")
            else:
                lines.append(f"  {exts[i].name}:")
        (d / "bundle.yaml").write_text("\n".join(lines) + "\n")
        (d / "composer.json").write_text(json.dumps({
            "name": f"bench/{c.name}", "require": require, "minimum-stability": "stable",
            "repositories": [{"packagist.org": False}, {"type": "composer", "url": (out / "composer").resolve().as_uri()}],
            "config": {"platform": {"php": PHP + ".0"}, "allow-plugins": False, "secure-http": False},
        }, indent=1))
        (d / "case.json").write_text(json.dumps({"name": c.name, "core": c.core, "php": PHP, "expect": c.expect,
                                                 "roots": [exts[i].name for i in c.roots],
                                                 "pin": [exts[c.pin[0]].name, c.pin[1]] if c.pin else None,
                                                 "broken_edges": broken_edges(exts, c.roots) if c.expect == "answer" else None}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    exts = generate(args.seed)
    all_cases = cases(exts, args.seed)
    write(args.out, exts, all_cases)
    planted = {e.index: e.planted for e in exts}
    newest = {e.index: e.newest_fit() for e in exts}
    for c in all_cases:
        info = json.loads((args.out / "cases" / c.name / "case.json").read_text())
        print(f"{c.name:<32} roots {len(c.roots):>3}  closure(planted) {len(closure(exts, c.roots, planted)):>4}  "
              f"closure(newest) {len(closure(exts, c.roots, newest)):>4}  broken edges (newest-first) {info['broken_edges']}  "
              f"cycles(planted) {has_cycle(exts, closure(exts, c.roots, planted), planted)}")


if __name__ == "__main__":
    main()
