from __future__ import annotations

from pathlib import Path

import yaml

from mwrelease.bundle import parse_bundle
from mwrelease.canasta import export_recommended_revisions, import_recommended_revisions
from mwrelease.lock import Lock, LockedComponent, Source

SAMPLE = """# written for this test in the RecommendedRevisions shape
extensions:
- Cite:
    Wikidata ID: Q1
    bundled: true
- Arrays:
    commit: 96357a3708ec36ae4b6deebb63991c86268d0e2a
- SemanticMediaWiki:
    repository: https://github.com/SemanticMediaWiki/SemanticMediaWiki
    commit: 16171910b16165089d19fc6f66c414e6f62aa1eb # v. 6.0.0
    persistent directories:
    - config
    additional steps:
    - composer update
    - database update
- SemanticScribunto:
    repository: https://github.com/SemanticMediaWiki/SemanticScribunto
    branch: main
    commit: 9bf8857c4c199acd589f836b4b7c454e708d99ee
    required extensions:
    - Scribunto
    - SemanticMediaWiki
skins:
- Vector:
    bundled: true
"""


def test_import() -> None:
    data, notes = import_recommended_revisions(SAMPLE, line="1.43", origin="1.43.yaml")
    assert data["extensions"]["Cite"] == {"source": "bundled"}
    assert data["extensions"]["Arrays"] == {"source": {"git": "https://gerrit.wikimedia.org/r/mediawiki/extensions/Arrays"},
                                            "ref": "REL1_43", "commit": "96357a3708ec36ae4b6deebb63991c86268d0e2a"}
    assert data["extensions"]["SemanticMediaWiki"]["ref"] == "master"
    assert data["extensions"]["SemanticScribunto"]["ref"] == "main"
    assert data["skins"]["Vector"] == {"source": "bundled"}
    assert any("SemanticMediaWiki: additional steps" in n for n in notes)
    bundle = parse_bundle(yaml.safe_dump(data), origin=Path("imported.yaml"))  # the result is a valid bundle
    assert len(bundle.components) == 5


def test_export_roundtrip() -> None:
    lock = Lock(bundle="b", flavor="", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",), components=(
        LockedComponent(name="Cite", kind="extension", ref="REL1_43", ref_type="bundled", commit=None, version=None,
                        source=Source(type="bundled"), catalog="core"),
        LockedComponent(name="Babel", kind="extension", ref="REL1_43", ref_type="branch", commit="3f" * 20, version=None,
                        source=Source(type="git", url="https://github.com/wikimedia/mediawiki-extensions-Babel.git"), catalog="s",
                        requires={"extensions": {"cldr": "*"}}),
        LockedComponent(name="Citizen", kind="skin", ref="v3.21.0", ref_type="tag", commit="95" * 20, version="3.21.0",
                        source=Source(type="git", url="https://github.com/StarCitizenTools/mediawiki-skins-Citizen.git"), catalog="s"),
    ))
    text = export_recommended_revisions(lock)
    data = yaml.safe_load(text)
    assert data["extensions"][0] == {"Cite": {"bundled": True}}
    assert data["extensions"][1] == {"Babel": {"commit": "3f" * 20, "required extensions": ["cldr"]}}
    assert data["skins"][0]["Citizen"]["repository"].endswith("mediawiki-skins-Citizen.git")
    back, _ = import_recommended_revisions(text, line="1.43", origin="exported")
    assert back["extensions"]["Babel"]["commit"] == "3f" * 20
    assert back["skins"]["Citizen"]["commit"] == "95" * 20
