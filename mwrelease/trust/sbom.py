"""A CycloneDX JSON SBOM per release: core, every extension and skin (name, version, ref, commit, repository,
license from extension.json's ``license-name``), made with cyclonedx-python-lib.

The licenses are read from the artifact itself (each ``extension.json`` / ``skin.json`` in the tarball), so
the SBOM describes what ships, not what a catalog said. Name, version, ref, commit and source type come from
the release manifest, which every release has, and so do repositories (the manifest's ``url`` of a git or
tarball component; manifests older than that field take it from the lock, when one is given). A git source's URL is a ``vcs`` external
reference, a tarball source's URL a ``distribution`` one; a lock that does not describe the release (another
core version, or a component at another source, ref or commit) is refused rather than lending its URLs.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent
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
    locked = _locked_components(manifest, lock) if lock is not None else {}
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
        lc = locked.get((c.kind, c.name))
        refs = []
        url = c.url or (lc.source.url if lc is not None and lc.source.type in ("git", "tarball") else None)
        if url and c.source in ("git", "tarball"):
            ref_type = ExternalReferenceType.VCS if c.source == "git" else ExternalReferenceType.DISTRIBUTION
            refs.append(ExternalReference(type=ref_type, url=XsUri(url)))
        comp = Component(
            name=c.name, version=c.version or c.ref or None, type=ComponentType.LIBRARY, bom_ref=f"{c.kind}:{c.name}",
            licenses=[factory.make_from_string(lic)] if lic else [], properties=props, external_references=refs)
        bom.components.add(comp)
        deps.append(comp)
    bom.register_dependency(core, deps)
    text: str = JsonV1Dot6(bom).output_as_string(indent=1)
    return text + "\n"


def _locked_components(manifest: Manifest, lock: Lock) -> dict[tuple[str, str], LockedComponent]:
    """(kind, name) -> the lock's entry of each component, once the lock is known to be the release's own."""
    locked: dict[tuple[str, str], LockedComponent] = {(lc.kind, lc.name): lc for lc in lock.components}
    shipped = {(c.kind, c.name): c for c in manifest.components}
    wrong = []
    if lock.core_version != manifest.core_version:
        wrong.append(f"core: {lock.core_version} in the lock, {manifest.core_version} in the release")
    for key, lc in locked.items():
        c = shipped.get(key)
        if c is None:
            wrong.append(f"{key[0]} {key[1]}: in the lock, not in the release")
        elif (c.source, c.ref, c.commit) != (lc.source.type, lc.ref, lc.commit):
            wrong.append(f"{key[0]} {key[1]}: {lc.source.type} {lc.ref} {lc.commit or '(no commit)'} in the lock, "
                         f"{c.source} {c.ref} {c.commit or '(no commit)'} in the release")
    if wrong:
        raise ConfigError(f"The lock {lock.bundle!r} does not describe release {manifest.name}; its repositories "
                          "would be another release's.", details=wrong[:10],
                          hint="Pass the lock the release was built from (or none).")
    return locked


def sbom_components(text: str) -> list[dict[str, Any]]:
    """name, version, ref, commit, license, repository of each component of a ``release_sbom`` SBOM."""
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
