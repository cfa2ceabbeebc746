"""A synthetic catalog and results at the scale of the compatibility site's promise (900 extensions x 5
core lines), shared by the site tests and benchmarks/bench_site.py. Deterministic (seeded)."""

from __future__ import annotations

import random
from pathlib import Path

from mwrelease.catalog import Candidate, Catalog, Requires
from mwrelease.runner.results import CellResult, CheckResult, Results

LINES = ("1.39", "1.40", "1.41", "1.42", "1.43")
CORES = ("1.39.17", "1.40.4", "1.41.5", "1.42.7", "1.43.9")
PHP = {"1.39": "8.2", "1.40": "8.2", "1.41": "8.2", "1.42": "8.3", "1.43": "8.4"}


def synthetic_catalog(n: int = 900, seed: int = 11) -> Catalog:
    """``n`` extensions (every 10th a skin), each with REL branches for the lines it has been around
    for, plus master; requires.MediaWiki like real ones (some none, some too new, some with a
    requires.extensions on a neighbour)."""
    rng = random.Random(seed)
    cands = []
    for i in range(n):
        name = f"Ext{i:04d}" if i % 10 else f"Skin{i:04d}"
        kind = "skin" if i % 10 == 0 else "extension"
        born = rng.randrange(len(LINES))
        for j, line in enumerate(LINES[born:] + ("master",)):
            ref = "master" if line == "master" else f"REL{line.replace('.', '_')}"
            minor = int((LINES[-1] if line == "master" else line).split(".")[1])
            roll = rng.random()
            req: dict[str, object] | None
            if roll < 0.08:
                req = None  # declares nothing: unknown
            elif roll < 0.14:
                req = {"MediaWiki": f">= 1.{minor + 1}.0"}  # needs a newer core than its own branch's
            else:
                req = {"MediaWiki": f">= 1.{minor}.0"}
            if req is not None and i % 7 == 3 and i > 0:
                req["extensions"] = {f"Ext{i - 1:04d}": "*"}
            cands.append(Candidate(
                name=name, kind=kind, ref=ref, ref_type="branch", commit=f"{i:04d}{j:02d}" + "0" * 34,
                commit_date=f"202{born + j if line != 'master' else 6}-0{1 + j % 9}-01T00:00:00Z",
                version=f"{1 + j}.0.0", requires=Requires.from_manifest(req) if req is not None else Requires(),
                origin="synthetic", repo=f"synthetic/{name}"))
    return Catalog(cands, sources=["synthetic"])


def synthetic_results(catalog: Catalog, seed: int = 5, dbs: tuple[str, ...] = ("sqlite", "mariadb", "postgres")) -> Results:
    """One lock per line holding every extension's REL branch for that line (or master), one cell per
    database; about 4% of components fail with a PHP fatal in the log, 2% are hidden by another's."""
    rng = random.Random(seed)
    locks, cells = [], []
    for line, core in zip(LINES, CORES):
        ref = f"REL{line.replace('.', '_')}"
        comps = []
        for name in catalog.names():
            refs = {c.ref for c in catalog.candidates(name)}
            pick = ref if ref in refs else "master"
            comps.append({"name": name, "kind": catalog.kind_of(name), "ref": pick, "commit": None, "version": None,
                          "source": "git", "requires": {}})
        sha = f"{line.replace('.', '')}".ljust(64, "a")
        locks.append({"bundle": f"all-{line}", "sha256": sha, "core_version": core, "core_line": line,
                      "databases": list(dbs), "components": comps})
        for db in dbs:
            checks = [CheckResult(name="update.php", status="passed"),
                      CheckResult(name="siteinfo:extensions", status="passed")]
            for comp in comps:
                roll = rng.random()
                if roll < 0.04:
                    name = comp["name"]
                    checks.append(CheckResult(
                        name=f"smoke:{name}:parse", status="failed", component=name, blame=(name,),
                        message=f"PHP Fatal error in extensions/{name}/includes/Hooks.php",
                        log=(f"PHP Fatal error:  Uncaught Error: Call to undefined method "
                             f"MediaWiki\\Parser\\Parser::getOutputX() in /var/www/extensions/{name}/includes/Hooks.php:{rng.randrange(20, 400)}\n"
                             "Stack trace:\n#0 /var/www/includes/Hook/HookRunner.php(42): ...\n" * 3)))
            checks.append(CheckResult(name="php-errors", status="passed"))
            cells.append(CellResult(id=f"all-{line}@{line}-php{PHP[line]}-{db}", bundle=f"all-{line}", lock_digest=sha,
                                    core_line=line, core=core, php=PHP[line], db=db, primary=db == "sqlite",
                                    status="failed" if any(c.bad for c in checks) else "passed", checks=tuple(checks),
                                    mediawiki_version=core, php_version=f"{PHP[line]}.7"))
    return Results(cells=tuple(cells), locks=tuple(locks), started="2026-12-01T00:00:00Z",
                   finished="2026-12-01T02:00:00Z", generated_by="synthetic")


EVIL = '<script>alert("pwned")</script>'


def write_small_inputs(directory: Path) -> dict[str, Path | list[Path]]:
    """A snapshot catalog directory (Cite, Poem, a skin, and an extension whose name is markup), a
    results file where Poem fails on 1.43 with a log full of markup, and seal statements of two bundles
    (two badges on one index page). Returns {"catalog", "results", "seals"}."""
    import json

    from mwrelease.seal import seal

    cat = directory / "catalog"
    cat.mkdir(parents=True)

    def snap(fname: str, name: str, kind: str, refs: dict[str, str | None]) -> None:
        (cat / fname).write_text(json.dumps({"name": name, "kind": kind, "repo": f"example/{fname[:-5]}", "refs": [
            {"ref": ref, "ref_type": "branch", "commit": f"{i:02d}".ljust(40, "0"),
             "commit_date": f"202{i}-01-01T00:00:00Z",
             "extension_json": {"name": name, "requires": {"MediaWiki": req}} if req else {"name": name}}
            for i, (ref, req) in enumerate(refs.items())]}))

    snap("Cite.json", "Cite", "extension", {"REL1_39": ">= 1.39.0", "REL1_43": ">= 1.43.0", "master": ">= 1.44.0"})
    snap("Poem.json", "Poem", "extension", {"REL1_39": ">= 1.39.0", "REL1_43": ">= 1.43.0"})
    snap("Vector.json", "Vector", "skin", {"REL1_39": ">= 1.39.0", "REL1_43": ">= 1.43.0"})
    snap("Evil.json", EVIL, "extension", {"REL1_43": None})
    comps = [{"name": n, "kind": "extension", "ref": "REL1_43", "commit": None, "version": None, "source": "git",
              "requires": {"MediaWiki": ">= 1.43.0"}} for n in ("Cite", "Poem")]
    locks = [{"bundle": b, "sha256": sha * 64, "core_version": "1.43.9", "core_line": "1.43",
              "databases": ["sqlite", "mariadb"], "components": comps} for b, sha in (("tarball-1.43", "a"), ("small-1.43", "b"))]
    ok = [CheckResult(name="update.php", status="passed"), CheckResult(name="siteinfo:extensions", status="passed"),
          CheckResult(name="php-errors", status="passed")]
    bad = ok + [CheckResult(name="smoke:Poem:poem", status="failed", component="Poem", blame=("Poem",),
                            message="expected <poem> output",
                            log="PHP Warning: <b>html & stuff</b> in /var/www/extensions/Poem/includes/Poem.php:42")]
    cells = []
    for lk in locks:
        for db in ("sqlite", "mariadb"):
            failing = lk["bundle"] == "tarball-1.43" and db == "mariadb"
            checks = bad if failing else ok
            cells.append(CellResult(id=f"{lk['bundle']}@1.43-php8.4-{db}", bundle=str(lk["bundle"]),
                                    lock_digest=str(lk["sha256"]), core_line="1.43", core="1.43.9", php="8.4", db=db,
                                    primary=db == "sqlite", status="failed" if failing else "passed",
                                    checks=tuple(checks), mediawiki_version="1.43.5", php_version="8.4.16"))
    results = Results(cells=tuple(cells), locks=tuple(locks), started="2026-12-01T00:00:00Z",
                      finished="2026-12-01T00:30:00Z", generated_by="test")
    rpath = directory / "results.json"
    results.dump(rpath)
    seals = []
    for s in seal([results], generated_by="test"):
        p = directory / f"{s.bundle}.seal.json"
        p.write_bytes(s.canonical())
        seals.append(p)
    return {"catalog": cat, "results": rpath, "seals": seals}
