"""The foundation on real MediaWiki data: git repositories of the real 1.39 and 1.43 bundled extensions
(REL1_39 / REL1_43 branches made from Debian's packages), resolved and put in a matrix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mwrelease.bundle import parse_bundle
from mwrelease.catalog import load_catalog
from mwrelease.errors import ResolutionError
from mwrelease.matrix import declared_matrix
from mwrelease.resolver import Target, resolve
from tests.helpers import REPO, core_tree

NAMES = ["Cite", "ParserFunctions", "Echo", "Thanks", "VisualEditor", "Vector"]


@pytest.fixture(scope="module")
def repos() -> Path:
    core_tree("1.39"), core_tree("1.43")
    subprocess.run(["bash", str(REPO / "ci" / "make-extension-repos.sh")], check=True, capture_output=True)
    return REPO / ".cache" / "repos"


def test_git_catalog_of_real_extensions(repos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cat = load_catalog([f"git:file://{repos / n}" for n in NAMES])
    refs = {(c.name, c.ref) for c in cat.all()}
    assert ("Cite", "REL1_39") in refs and ("Cite", "REL1_43") in refs
    assert ("Echo", "REL1_39") not in refs  # Echo joined the tarball in 1.40
    rows = declared_matrix(cat, ["1.39.17", "1.43.9"])
    status = {(r.candidate.name, r.candidate.ref, r.core): r.status for r in rows}
    assert status[("Cite", "REL1_43", "1.39.17")] == "incompatible"
    assert status[("Cite", "REL1_39", "1.43.9")] == "compatible"  # declares >= 1.39.0: the container tests tell the truth
    assert status[("Thanks", "REL1_43", "1.43.9")] == "compatible"


def test_resolve_git_bundle_both_lines(repos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entries = "".join(f"  {n}: {{source: {{git: 'file://{repos / n}'}}}}\n" for n in NAMES if n != "Vector")
    text = f"name: git-bundle\ncore: {{lines: ['1.39', '1.43']}}\nextensions:\n{entries}skins:\n  Vector: {{source: {{git: 'file://{repos / 'Vector'}'}}}}\n"
    bundle = parse_bundle(text, origin=tmp_path / "b.yaml")
    cat = load_catalog([f"git:file://{repos / n}" for n in NAMES])
    lock = resolve(bundle, cat, Target(core="1.43.9")).lock
    assert {c.name: c.ref for c in lock.components} == {n: "REL1_43" for n in NAMES}
    assert all(c.commit and c.source.type == "git" for c in lock.components)
    # On 1.39 there is no Echo at all: Thanks REL1_39 … fine, but Echo itself cannot be resolved.
    with pytest.raises(ResolutionError) as info:
        resolve(bundle, cat, Target(core="1.39.17"))
    assert "Echo REL1_43 requires MediaWiki >= 1.43; the bundle targets 1.39.17" in info.value.render()
    json.dumps(lock.to_json())
