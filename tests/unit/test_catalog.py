from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from mwrelease.catalog import load_catalog, open_source
from mwrelease.catalog.git import GitSource
from mwrelease.errors import ConfigError, SourceError
from tests.helpers import core_tree


def test_snapshot_real_data(snapshots: Path) -> None:
    cat = load_catalog([str(snapshots)])
    assert len(cat.names()) == 43
    assert len(cat) == 882
    cite = {c.ref: c for c in cat.candidates("Cite")}
    assert cite["REL1_43"].requires.mediawiki is not None
    assert cite["REL1_43"].commit and len(cite["REL1_43"].commit) == 40
    # Partial entries carry commits but no branch.
    assert any(c.ref is None and c.ref_type == "indexed-file-version" for c in cat.candidates("Arrays"))
    assert cat.kind_of("Vector") == "skin"


def test_snapshot_values_are_complete(snapshots: Path) -> None:
    """The snapshot reader builds Candidate and Requires without their __init__ (frozen_value): every field
    is set, and each value equals the one the dataclass's own __init__ makes from the same fields."""
    cands = list(load_catalog([str(snapshots)]).all())
    for value in [*cands, *(c.requires for c in cands)]:
        names = {f.name for f in dataclasses.fields(value)}  # type: ignore[arg-type]
        assert set(vars(value)) == names, (value, set(vars(value)) ^ names)
        assert vars(type(value)(**vars(value))) == vars(value)


def write_ext(root: Path, name: str, manifest: dict[str, object], fname: str = "extension.json") -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / fname).write_text(json.dumps(manifest))
    return d


def test_tree_source(tmp_path: Path) -> None:
    write_ext(tmp_path, "Foo", {"name": "Foo Display", "version": "1.2.0", "requires": {"MediaWiki": ">= 1.39"}})
    write_ext(tmp_path, "MySkin", {"name": "MySkin", "requires": {"MediaWiki": ">= 1.43"}}, "skin.json")
    (tmp_path / "NotAnExtension").mkdir()
    cat = load_catalog([str(tmp_path)])
    assert cat.names() == ["Foo", "MySkin"]
    foo = cat.candidates("Foo")[0]
    assert foo.version == "1.2.0" and foo.requires.mediawiki == ">= 1.39" and foo.display_name == "Foo Display"
    # requires.extensions keys use extension.json's "name": the alias finds the load name.
    assert cat.candidates("Foo Display") == [foo]
    assert cat.candidates("MySkin")[0].kind == "skin"


def test_malformed_manifest_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "Bad").mkdir()
    (tmp_path / "Bad" / "extension.json").write_text("{ not json")
    with pytest.raises(ConfigError, match="Bad/extension.json is not valid JSON"):
        load_catalog([str(tmp_path)])


def test_core_tree_source_real_debian_trees() -> None:
    for line, expected_ref in (("1.39", "REL1_39"), ("1.43", "REL1_43")):
        src = open_source(str(core_tree(line)))
        cands = list(src.candidates())
        names = {c.name for c in cands}
        assert {"Cite", "ParserFunctions", "Vector"} <= names
        assert all(c.ref == expected_ref and c.ref_type == "bundled" for c in cands)
        assert ("Echo" in names) == (line == "1.43")  # Echo joined the tarball in 1.40


def make_repo(path: Path) -> Path:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)

    path.mkdir()
    git("init", "-q", "-b", "master")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    for line, constraint in (("1.39", ">= 1.39.0"), ("1.43", ">= 1.43")):
        (path / "extension.json").write_text(json.dumps({"name": "Gizmo", "version": f"{line}.0", "requires": {"MediaWiki": constraint}}))
        (path / "composer.json").write_text(json.dumps({"require": {"php": ">=8.1"}}))
        git("add", "-A")
        git("commit", "-qm", f"for {line}")
        git("branch", f"REL{line.replace('.', '_')}")
    git("tag", "-a", "2.0.0", "-m", "release")
    return path


def test_git_source_reads_refs_without_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = make_repo(tmp_path / "mediawiki-extensions-Gizmo")
    cands = {c.ref: c for c in GitSource(str(repo)).candidates()}
    assert set(cands) == {"REL1_39", "REL1_43", "2.0.0", "master"}
    assert cands["REL1_39"].requires.mediawiki == ">= 1.39.0"
    assert cands["REL1_43"].requires.mediawiki == ">= 1.43"
    assert cands["2.0.0"].ref_type == "tag" and cands["2.0.0"].commit == cands["REL1_43"].commit  # annotated tag peeled
    assert cands["REL1_43"].composer_require["php"] == ">=8.1"
    assert all(c.name == "Gizmo" for c in cands.values())
    # A second read comes from the per-commit cache and agrees.
    again = {c.ref: c.requires.mediawiki for c in GitSource(str(repo)).candidates()}
    assert again == {k: v.requires.mediawiki for k, v in cands.items()}
    # A remote (file://) URL is mirrored into the cache and read the same way.
    remote = {c.ref for c in GitSource(f"file://{repo}/.git").candidates()}
    assert remote == set(cands)


def test_unreachable_git_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(SourceError, match="git failed while cloning"):
        list(GitSource("file:///nonexistent/repo.git").candidates())


def test_missing_source_path() -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source("/nonexistent/catalog")
