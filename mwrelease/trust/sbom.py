"""A CycloneDX JSON SBOM per release: core, every extension and skin (name, version, ref, commit, repository,
license from extension.json's ``license-name``), made with cyclonedx-python-lib.

The licenses are read from the artifact itself (each ``extension.json`` / ``skin.json`` in the tarball), so
the SBOM describes what ships, not what a catalog said; repositories come from the lock when it is given.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from mwrelease.lock import Lock
from mwrelease.release.manifest import Manifest

CORE_LICENSE = "GPL-2.0-or-later"  # MediaWiki core's COPYING


def licenses_in_tarball(tarball: Path, prefix: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> license-name of every extension and skin in a release tarball."""
    out: dict[tuple[str, str], str] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            rest = member.name[len(prefix):] if member.name.startswith(prefix) else ""
            parts = rest.split("/")
            if len(parts) != 3 or (parts[0], parts[2]) not in (("extensions", "extension.json"), ("skins", "skin.json")):
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            try:
                info = json.loads(fh.read(1 << 20))
            except (ValueError, UnicodeDecodeError):
                continue
            lic = info.get("license-name") if isinstance(info, dict) else None
            if isinstance(lic, str) and lic:
                out[("skin" if parts[0] == "skins" else "extension", parts[1])] = lic
            elif isinstance(lic, list) and all(isinstance(x, str) for x in lic) and lic:
                out[("skin" if parts[0] == "skins" else "extension", parts[1])] = " AND ".join(lic)
    return out


def release_sbom(manifest: Manifest, tarball: Path, lock: Lock | None = None) -> str:
    """The CycloneDX 1.6 JSON text for a full release artifact."""
    try:
        from cyclonedx.contrib.license.factories import LicenseFactory
    except ImportError:  # cyclonedx-python-lib before the contrib move
        from cyclonedx.factory.license import LicenseFactory
    from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    factory = LicenseFactory()
    licenses = licenses_in_tarball(tarball, manifest.prefix)
    repos: dict[tuple[str, str], str] = {}
    if lock is not None:
        for lc in lock.components:
            if lc.source.url:
                repos[(lc.kind, lc.name)] = lc.source.url
    bom = Bom()
    core = Component(name="mediawiki", version=manifest.core_version, type=ComponentType.APPLICATION,
                     bom_ref="core", licenses=[factory.make_from_string(CORE_LICENSE)],
                     external_references=[ExternalReference(
                         type=ExternalReferenceType.VCS, url=XsUri("https://gerrit.wikimedia.org/r/mediawiki/core"))],
                     properties=[Property(name="mwrelease:line", value=manifest.core_line),
                                 Property(name="mwrelease:bundle", value=manifest.bundle or "")])
    bom.metadata.component = core
    deps = []
    for c in manifest.components:
        props = [Property(name="mwrelease:kind", value=c.kind), Property(name="mwrelease:source", value=c.source)]
        if c.ref:
            props.append(Property(name="mwrelease:ref", value=c.ref))
        if c.commit:
            props.append(Property(name="mwrelease:commit", value=c.commit))
        lic = licenses.get((c.kind, c.name))
        repo = repos.get((c.kind, c.name))
        comp = Component(
            name=c.name, version=c.version or c.ref or None, type=ComponentType.LIBRARY, bom_ref=f"{c.kind}:{c.name}",
            licenses=[factory.make_from_string(lic)] if lic else [], properties=props,
            external_references=[ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(repo))] if repo else [])
        bom.components.add(comp)
        deps.append(comp)
    bom.register_dependency(core, deps)
    text: str = JsonV1Dot6(bom).output_as_string(indent=1)
    return text + "\n"


def sbom_components(text: str) -> list[dict[str, Any]]:
    """name, version, ref, commit, license of each component of an SBOM written by ``release_sbom``."""
    data = json.loads(text)
    out = []
    for c in data.get("components", []):
        props = {p["name"]: p["value"] for p in c.get("properties", [])}
        lic = [x.get("expression") or (x.get("license") or {}).get("id") or (x.get("license") or {}).get("name")
               for x in c.get("licenses", [])]
        out.append({"name": c["name"], "version": c.get("version"), "ref": props.get("mwrelease:ref"),
                    "commit": props.get("mwrelease:commit"), "license": lic[0] if lic else None,
                    "repository": next((r["url"] for r in c.get("externalReferences", []) if r["type"] == "vcs"), None)})
    return out
