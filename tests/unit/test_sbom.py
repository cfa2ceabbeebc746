"""Issue 9 item 6: the CycloneDX SBOM of a release (trust.sbom.release_sbom), field by field and schema-valid.

A small release built by `release build` from the shared test core (helpers.make_core) and lock (make_lock):
Cite bundled with core (GPL-2.0-or-later), Foo from a git repository at a pinned commit (MIT), the Vector
skin of the core tree (a ``license-name`` list), Bare with no ``license-name``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.release.build import Artifact, build_release
from mwrelease.trust.sbom import CORE_LICENSE, release_sbom, sbom_components
from tests.unit.helpers import CITE, make_core, make_lock

VERSION = "1.43.4"
CORE_REPO = "https://gerrit.wikimedia.org/r/mediawiki/core"


@dataclasses.dataclass
class Release:
    artifact: Artifact
    lock: Lock
    foo_url: str
    foo_commit: str


def git_repo(root: Path, meta: dict[str, Any]) -> tuple[str, str]:
    """A one-commit repository holding ``extension.json``; (its file:// URL, the commit)."""
    root.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    (root / "extension.json").write_text(json.dumps(meta))
    git("add", "-A")
    git("commit", "-qm", "one")
    return root.as_uri(), git("rev-parse", "HEAD")


@pytest.fixture(scope="module")
def rel(tmp_path_factory: pytest.TempPathFactory) -> Release:
    base = tmp_path_factory.mktemp("sbom")
    url, commit = git_repo(base / "Foo", {"name": "Foo", "version": "2.1.0", "license-name": "MIT"})
    foo = LockedComponent(name="Foo", kind="extension", ref="main", ref_type="branch", commit=commit,
                          version="2.1.0", source=Source(type="git", url=url), catalog="test")
    lock = make_lock(VERSION, (CITE, foo))
    core = make_core(base / "core", VERSION, extra={
        "extensions/Cite/extension.json": json.dumps({"name": "Cite", "version": "1.0",
                                                     "license-name": "GPL-2.0-or-later"}),
        "skins/Vector/skin.json": json.dumps({"name": "Vector", "license-name": ["GPL-2.0-or-later", "MIT"]}),
        "extensions/Bare/extension.json": json.dumps({"name": "Bare"}),
    })
    (art,) = build_release(lock, core, base / "out")
    return Release(artifact=art, lock=lock, foo_url=url, foo_commit=commit)


def sbom(rel: Release, lock: Lock | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(release_sbom(rel.artifact.manifest, rel.artifact.tarball, lock))
    return data


def props(comp: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in comp.get("properties", [])}


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["components"]}


def test_every_component_with_name_version_ref_commit_repository_license(rel: Release) -> None:
    data = sbom(rel, rel.lock)
    comps = by_name(data)
    assert sorted(comps) == ["Bare", "Cite", "Foo", "Vector"]  # every extension and skin of the tarball

    foo = comps["Foo"]
    assert foo["bom-ref"] == "extension:Foo" and foo["type"] == "library"
    assert foo["version"] == "2.1.0"
    assert props(foo) == {"mwrelease:kind": "extension", "mwrelease:source": "git", "mwrelease:ref": "main",
                          "mwrelease:commit": rel.foo_commit}
    assert foo["externalReferences"] == [{"type": "vcs", "url": rel.foo_url}]
    assert foo["licenses"] == [{"license": {"id": "MIT"}}]

    cite = comps["Cite"]
    assert cite["version"] == "1.0"
    assert props(cite) == {"mwrelease:kind": "extension", "mwrelease:source": "bundled", "mwrelease:ref": "REL1_43"}
    assert cite["licenses"] == [{"license": {"id": "GPL-2.0-or-later"}}]
    assert "externalReferences" not in cite  # bundled with core: the lock names no repository of its own

    vector = comps["Vector"]
    assert vector["bom-ref"] == "skin:Vector" and props(vector)["mwrelease:kind"] == "skin"
    assert props(vector)["mwrelease:source"] == "core-tree"
    assert vector["licenses"] == [{"expression": "GPL-2.0-or-later AND MIT"}]  # a license-name list

    assert "licenses" not in comps["Bare"]  # no license-name: no license is made up

    # sbom_components (what review and tests read back) sees the same fields.
    assert {c["name"]: c for c in sbom_components(json.dumps(data))}["Foo"] == {
        "name": "Foo", "version": "2.1.0", "ref": "main", "commit": rel.foo_commit, "license": "MIT",
        "repository": rel.foo_url}


def test_core_is_the_bom_subject_and_depends_on_every_component(rel: Release) -> None:
    data = sbom(rel, rel.lock)
    core = data["metadata"]["component"]
    assert core["name"] == "mediawiki" and core["version"] == VERSION and core["type"] == "application"
    assert core["bom-ref"] == "core"
    assert core["licenses"] == [{"license": {"id": CORE_LICENSE}}] and CORE_LICENSE == "GPL-2.0-or-later"
    assert core["externalReferences"] == [{"type": "vcs", "url": CORE_REPO}]
    assert props(core) == {"mwrelease:line": "1.43", "mwrelease:bundle": "tarball-1.43"}
    deps = {d["ref"]: d.get("dependsOn", []) for d in data["dependencies"]}
    assert sorted(deps["core"]) == ["extension:Bare", "extension:Cite", "extension:Foo", "skin:Vector"]
    assert data["bomFormat"] == "CycloneDX" and data["specVersion"] == "1.6"


@pytest.mark.parametrize("with_lock", [True, False])
def test_the_sbom_is_valid_cyclonedx_1_6(rel: Release, with_lock: bool) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = release_sbom(rel.artifact.manifest, rel.artifact.tarball, rel.lock if with_lock else None)
    assert json.loads(text)["specVersion"] == SchemaVersion.V1_6.to_version()
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(text) is None
    # The validator is live: the same document with a component type CycloneDX does not have is refused.
    broken = json.loads(text)
    broken["components"][0]["type"] = "plugin"
    assert validator.validate_str(json.dumps(broken)) is not None


def test_without_the_lock_the_repository_comes_from_the_manifest(rel: Release) -> None:
    # The release manifest records where a git or tarball component came from: no lock needed.
    foo = by_name(sbom(rel))["Foo"]
    url = next(c.url for c in rel.artifact.manifest.components if c.name == "Foo")
    assert url and url.startswith("file://") and foo["externalReferences"] == [{"type": "vcs", "url": url}]
    assert foo["version"] == "2.1.0" and foo["licenses"] == [{"license": {"id": "MIT"}}]
    assert props(foo)["mwrelease:commit"] == rel.foo_commit and props(foo)["mwrelease:ref"] == "main"


def test_an_older_manifest_without_urls_takes_the_repository_from_the_lock_or_has_none(rel: Release) -> None:
    old = dataclasses.replace(rel.artifact.manifest, components=tuple(
        dataclasses.replace(c, url=None) for c in rel.artifact.manifest.components))
    assert "externalReferences" not in by_name(json.loads(release_sbom(old, rel.artifact.tarball)))["Foo"]
    foo = by_name(json.loads(release_sbom(old, rel.artifact.tarball, rel.lock)))["Foo"]
    assert foo["externalReferences"][0]["type"] == "vcs" and foo["externalReferences"][0]["url"].startswith("file://")


def test_a_tarball_source_is_a_distribution_not_a_repository(rel: Release) -> None:
    url = "https://example.org/Foo-2.1.0.tar.gz"
    manifest = dataclasses.replace(rel.artifact.manifest, components=tuple(
        dataclasses.replace(c, source="tarball", url=url) if c.name == "Foo" else c
        for c in rel.artifact.manifest.components))
    foo = by_name(json.loads(release_sbom(manifest, rel.artifact.tarball)))["Foo"]
    assert foo["externalReferences"] == [{"type": "distribution", "url": url}]


def test_a_lock_of_another_release_lends_no_repositories(rel: Release) -> None:
    other_commit = dataclasses.replace(rel.lock, components=tuple(
        dataclasses.replace(c, commit="f" * 40) if c.name == "Foo" else c for c in rel.lock.components))
    with pytest.raises(ConfigError) as exc:
        sbom(rel, other_commit)
    assert "does not describe release mediawiki-1.43.4" in exc.value.message
    assert any(d.startswith("extension Foo: git main ffff") for d in exc.value.details)
    with pytest.raises(ConfigError):
        sbom(rel, dataclasses.replace(rel.lock, core_version="1.43.5"))
    extra = LockedComponent(name="Poem", kind="extension", ref="REL1_43", ref_type="branch", commit=None,
                            version=None, source=Source(type="bundled"), catalog="test")
    with pytest.raises(ConfigError):
        sbom(rel, dataclasses.replace(rel.lock, components=(*rel.lock.components, extra)))
