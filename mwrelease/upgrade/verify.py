"""`mwrelease verify`: every core, extension and skin file of an installed wiki against the manifest of the
release it runs (changed, missing, added), like `wp core verify-checksums`.

The manifest is the one mwrelease wrote into the tree when it installed or upgraded it
(``.mwrelease/manifest.json``); for a wiki unpacked by hand from a channel's tarball, the channel's
manifest of the installed version (``--channel``). What belongs to the installation and not to the release
is not checked: LocalSettings.php, images/, cache/, the state directory, and extensions or skins the
release does not ship (the admin's own; they are listed as such).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError
from mwrelease.mwtree import core_version_of
from mwrelease.release.manifest import Manifest
from mwrelease.release.treediff import TreeDiff
from mwrelease.upgrade.inspect import INSTALLED_MANIFEST, require_wiki
from mwrelease.upgrade.treediff import own_component_dirs, wiki_diff


@dataclass(frozen=True, kw_only=True)
class Verification:
    wiki: Path
    tree: Path
    core_version: str
    release: str  # the manifest's name, e.g. mediawiki-1.43.5
    manifest_from: str  # "installed" (.mwrelease/manifest.json) or the channel's location
    files_checked: int
    own: tuple[str, ...]  # the admin's own extensions and skins (not checked)
    diff: TreeDiff

    def to_json(self) -> dict[str, Any]:
        return {"wiki": str(self.wiki), "tree": str(self.tree), "core_version": self.core_version,
                "release": self.release, "manifest_from": self.manifest_from, "files_checked": self.files_checked,
                "own_extensions_and_skins": list(self.own), "clean": self.diff.clean, **self.diff.to_json()}

    def render(self) -> str:
        head = (f"{self.wiki}: MediaWiki {self.core_version}, checked {self.files_checked} files against "
                f"{self.release} ({'installed manifest' if self.manifest_from == 'installed' else self.manifest_from})")
        out = [head]
        if self.diff.clean:
            out.append("  every core, extension and skin file matches the release")
        else:
            out.append(f"  {len(self.diff.changed)} changed, {len(self.diff.missing)} missing, "
                       f"{len(self.diff.added)} added:")
            out += [f"    {ln}" for ln in self.diff.lines()]
        if self.own:
            out.append(f"  not checked (not shipped by the release): {', '.join(self.own)}")
        return "\n".join(out)


def verify_wiki(wiki: Path, *, channel: str | None = None, allow_unsigned: bool = False) -> Verification:
    """Compare the wiki's tree with its release manifest. Needs no PHP: the core version is read from
    includes/Defines.php."""
    require_wiki(wiki)
    tree = Path(os.path.realpath(wiki))
    version = core_version_of(tree)
    mpath = tree / INSTALLED_MANIFEST
    if mpath.is_file():
        manifest, source = Manifest.load(mpath), "installed"
    elif channel:
        from mwrelease.trust.client import open_channel

        client = open_channel(channel, allow_unsigned=allow_unsigned)
        rel = client.index().find(version)
        if rel is None:
            raise ConfigError(f"{wiki} was not installed by mwrelease, and the channel {channel} has no release "
                              f"{version} to compare it with.",
                              hint="Pass --channel with the channel the wiki's tarball came from.")
        manifest, source = client.manifest(rel.manifest_file, rel.manifest_sha256), channel
    else:
        raise ConfigError(f"{wiki} was not installed by mwrelease (no {INSTALLED_MANIFEST}), so the release to "
                          "compare it with is unknown.",
                          hint="Pass --channel with the channel its tarball came from; mwrelease then compares it "
                               f"with that channel's manifest of {version}.")
    if manifest.core_version != version:
        raise ConfigError(f"{wiki} declares MediaWiki {version}, but its release manifest is of "
                          f"{manifest.core_version}; includes/Defines.php was changed or the manifest is stale.")
    diff = wiki_diff(tree, manifest)
    return Verification(wiki=wiki, tree=tree, core_version=version, release=manifest.name, manifest_from=source,
                        files_checked=len(manifest.files), own=tuple(own_component_dirs(tree, manifest)), diff=diff)
