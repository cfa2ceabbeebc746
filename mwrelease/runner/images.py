"""Image recipes per MediaWiki line, with content-keyed tags so that a second build rebuilds nothing.

A recipe is pure data (Dockerfile text + context files + the base image it starts from); its *key* is a
hash of that data and of the base image's id, and the image tag carries the key:

    mwrelease/core:1.43-debian-<key>     MediaWiki from Debian's ``mediawiki`` package (trixie)
    mwrelease/core:1.43.1-tarball-<key>  an official release tarball on a PHP base
    mwrelease/db-mariadb:bookworm-<key>  Debian's mariadb-server
    mwrelease/db-postgres:bookworm-<key> Debian's postgresql

A moving alias without the key (``mwrelease/core:1.43-debian``) points to the newest build.
``ensure_image`` builds only when no image has the tag; changing a recipe or re-creating a base image
changes the key. Core images describe themselves: ``/etc/mwrelease/image.json`` inside, and the same
facts as labels (``mwrelease.mediawiki.version``, ``mwrelease.php.version``, ``mwrelease.mediawiki.path``,
``mwrelease.mediawiki.extensions``, ``mwrelease.mediawiki.skins``).

The base image source is a setting (``MWRELEASE_BASE_IMAGES`` or ``--base-source``):
``debootstrap`` (default) uses ``mwrelease/base:SUITE`` made by ``ci/prepare-machine.sh`` without a
registry; ``registry`` uses ``debian:SUITE`` (and ``php:X-cli`` for tarballs), pulled when missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, EngineError
from mwrelease.runner.engine import HINT, Engine

# The recipes (pure data) live in runner.recipes and the suite table in runner.suites; re-exported here
# for the callers that build, list and prune images with them.
from mwrelease.runner.recipes import RECIPE_FORMAT as RECIPE_FORMAT
from mwrelease.runner.recipes import BaseSource as BaseSource
from mwrelease.runner.recipes import BASE_SOURCES as BASE_SOURCES
from mwrelease.runner.recipes import RecipeName as RecipeName
from mwrelease.runner.recipes import DbKind as DbKind
from mwrelease.runner.recipes import DB_SUITE as DB_SUITE
from mwrelease.runner.recipes import DEBIAN_MW_PATH as DEBIAN_MW_PATH
from mwrelease.runner.recipes import TARBALL_MW_PATH as TARBALL_MW_PATH
from mwrelease.runner.recipes import PHP_PACKAGES as PHP_PACKAGES
from mwrelease.runner.recipes import TOOL_PACKAGES as TOOL_PACKAGES
from mwrelease.runner.recipes import base_source_setting as base_source_setting
from mwrelease.runner.recipes import base_image_ref as base_image_ref
from mwrelease.runner.recipes import suite_for_line as suite_for_line
from mwrelease.runner.recipes import Recipe as Recipe
from mwrelease.runner.recipes import PROBE_PHP as PROBE_PHP
from mwrelease.runner.recipes import APT_INSTALL_SH as APT_INSTALL_SH
from mwrelease.runner.recipes import debian_package_recipe as debian_package_recipe
from mwrelease.runner.recipes import db_recipe as db_recipe
from mwrelease.runner.recipes import Tarball as Tarball
from mwrelease.runner.recipes import tarball_recipe as tarball_recipe
from mwrelease.runner.recipes import fetch_tarball as fetch_tarball
from mwrelease.runner.suites import DEFAULT_LINES as DEFAULT_LINES
from mwrelease.runner.suites import LINE_SUITES as LINE_SUITES
from mwrelease.runner.suites import SUITE_PHP as SUITE_PHP

log = logging.getLogger("mwrelease.images")


# --- building ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class BuiltImage:
    tag: str
    alias: str
    id: str
    recipe: str
    labels: Mapping[str, str]
    cached: bool
    seconds: float

    @property
    def mediawiki_version(self) -> str | None:
        return self.labels.get("mwrelease.mediawiki.version")

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "alias": self.alias, "id": self.id, "recipe": self.recipe,
                "labels": dict(self.labels), "cached": self.cached, "seconds": round(self.seconds, 1)}


def resolve_base(engine: Engine, recipe: Recipe) -> str:
    """The base image's id, pulling it from a registry when it is a registry image."""
    info = engine.image(recipe.base)
    if info is None and not recipe.base.startswith("mwrelease/"):
        engine.pull(recipe.base)
        info = engine.image(recipe.base)
    if info is None:
        raise EngineError(f"The base image {recipe.base} does not exist, so {recipe.alias} cannot be built.",
                          hint=f"{HINT} Or set MWRELEASE_BASE_IMAGES=registry where a registry is reachable.")
    return info.id


def image_facts_labels(facts: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    names = {"mediawiki_version": "mwrelease.mediawiki.version", "php_version": "mwrelease.php.version",
             "mediawiki_path": "mwrelease.mediawiki.path", "package_version": "mwrelease.mediawiki.package",
             "db": "mwrelease.db"}
    if "db" in facts:
        names.pop("package_version")
    for key, label in names.items():
        if facts.get(key):
            labels[label] = str(facts[key])
    for key in ("extensions", "skins"):
        if key in facts:
            labels[f"mwrelease.mediawiki.{key}"] = ",".join(facts[key])
    if facts.get("package_version") and "db" in facts:
        labels["mwrelease.db.version"] = str(facts["package_version"])
    return labels


def ensure_image(engine: Engine, recipe: Recipe, *, force: bool = False,
                 on_line: Callable[[str], None] | None = None) -> BuiltImage:
    """Build the recipe's image unless an image with its content-keyed tag exists already."""
    start = time.monotonic()
    base_id = resolve_base(engine, recipe)
    tag = recipe.tag(base_id)
    key = recipe.key(base_id)
    existing = engine.image(tag)
    if existing is not None and not force:
        _alias(engine, tag, recipe.alias)
        return BuiltImage(tag=tag, alias=recipe.alias, id=existing.id, recipe=recipe.name,
                          labels=existing.labels, cached=True, seconds=time.monotonic() - start)
    if "mediawiki.tar.gz" in recipe.context_digests and "mediawiki.tar.gz" not in recipe.context_files:
        raise ConfigError("The tarball recipe needs the tarball's content to build (fetch_tarball).")
    labels = {**recipe.labels, "mwrelease.key": key, "mwrelease.base": recipe.base, "mwrelease.base.id": base_id}
    # Two steps: the recipe, then a label-only layer with the facts the build found (versions,
    # bundled extensions), which cannot be known before the build.
    # force: also bypass the layer cache, so that apt fetches today's packages (security updates).
    stage_id = engine.build_image(f"{tag}-stage", recipe.dockerfile, recipe.context_files, labels, on_line=on_line,
                                  nocache=force)
    try:
        with engine.container(stage_id, labels={"mwrelease.purpose": "probe"}) as c:
            facts = json.loads(c.get_file("/etc/mwrelease/image.json"))
        facts_labels = image_facts_labels(facts)
        if facts_labels:
            label_lines = " \\\n      ".join(f"{k}={json.dumps(v)}" for k, v in sorted(facts_labels.items()))
            image_id = engine.build_image(tag, f"FROM {stage_id}\nLABEL {label_lines}\n", {}, labels,
                                          on_line=on_line)
        else:
            image_id = stage_id
            _alias(engine, stage_id, tag)
    finally:
        # Only the tag goes when the build succeeded: the layers stay as the final image's parent.
        engine.remove_image(f"{tag}-stage")
    _alias(engine, tag, recipe.alias)
    info = engine.image(tag)
    return BuiltImage(tag=tag, alias=recipe.alias, id=image_id, recipe=recipe.name,
                      labels=info.labels if info else {**labels, **facts_labels}, cached=False,
                      seconds=time.monotonic() - start)


def _is_alias(tag: str) -> bool:
    name = tag.rpartition(":")[2]
    return not re.search(r"-[0-9a-f]{16}$", name)


def _alias(engine: Engine, tag: str, alias: str) -> None:
    repo, _, name = alias.rpartition(":")
    engine.tag_image(tag, repo, name)


def core_recipe(line: str, *, recipe: RecipeName = "debian-package", source: BaseSource = "debootstrap",
                tarball: Tarball | None = None) -> Recipe:
    if recipe == "debian-package":
        return debian_package_recipe(line, source=source)
    if recipe == "tarball":
        if tarball is None:
            raise ConfigError("The tarball recipe needs a tarball (--core-tarball URL --core-sha256 HEX --version X.Y.Z).")
        return tarball_recipe(tarball, source=source, data=fetch_tarball(tarball))
    raise ConfigError(f"{recipe} is not a core image recipe.")


def core_image(engine: Engine, line: str, *, source: BaseSource | None = None,
               on_line: Callable[[str], None] | None = None) -> BuiltImage:
    """The debian-package image for ``line``, built when missing: what the cell runner and tests call."""
    return ensure_image(engine, debian_package_recipe(line, source=base_source_setting(source)), on_line=on_line)


def db_image(engine: Engine, kind: DbKind, *, source: BaseSource | None = None,
             on_line: Callable[[str], None] | None = None) -> BuiltImage:
    return ensure_image(engine, db_recipe(kind, source=base_source_setting(source)), on_line=on_line)


def prune(engine: Engine, *, keep_current: bool = True, source: BaseSource | None = None,
          dry_run: bool = False) -> list[str]:
    """Remove mwrelease images that no current recipe would produce (or all core/db images).

    Base images (``mwrelease.kind=base``) are never removed here: ci/prepare-machine.sh owns them.
    """
    current: set[str] = set()
    if keep_current:
        src = base_source_setting(source)
        recipes = [debian_package_recipe(line, source=src) for line in LINE_SUITES]
        recipes += [db_recipe("mariadb", source=src), db_recipe("postgres", source=src)]
        for r in recipes:
            base = engine.image(r.base)
            if base is not None:
                current.add(r.tag(base.id))
    removed: list[str] = []
    for img in engine.list_images("mwrelease.kind"):
        if img.labels.get("mwrelease.kind") == "base":
            continue
        # Keep what a current recipe produces and the newest build of every variant (it carries the
        # alias tag without a key, e.g. a tarball image): prune removes superseded builds.
        if keep_current and (current & set(img.tags) or any(_is_alias(t) for t in img.tags)):
            continue
        if not dry_run:
            try:
                for t in img.tags or (img.id,):
                    engine.remove_image(t)
            except EngineError as exc:  # in use by a container of a running test: leave it
                log.warning("kept %s: %s", img.tags[0] if img.tags else img.id, exc.message)
                continue
        removed.append(img.tags[0] if img.tags else img.id)
    return removed


def debian_tree_tarball(engine: Engine, line: str, dest_dir: str | os.PathLike[str], *,
                        source: BaseSource | None = None) -> Tarball:
    """Make a release-style tarball (``mediawiki-X.Y.Z/`` prefix, upstream layout) from Debian's tree.

    For tests without the network: the tarball recipe and a "tarball-installed wiki" for upgrades.
    Debian's symlinks are resolved (``tar -h``); LocalSettings.php (a dangling link) and the
    ``extensions-core`` directory (reached through ``extensions/``) are left out, as upstream has neither.
    """
    built = core_image(engine, line, source=source)
    version = str(built.labels.get("mwrelease.mediawiki.version") or line)
    name = f"mediawiki-{version}.tar.gz"
    with engine.container(built.tag, labels={"mwrelease.purpose": "tarball"}) as c:
        # Reproducible (sorted, fixed owners, gzip -n): the same tree gives the same sha256, so the
        # tarball image built from it is cached like any other.
        c.exec(f"tar -C {DEBIAN_MW_PATH} -h --exclude=./LocalSettings.php --exclude=./extensions-core "
               f"--sort=name --owner=0 --group=0 --numeric-owner "
               f"--transform 's,^\\.,mediawiki-{version},' -cf - . | gzip -n > /tmp/{name}",
               timeout=600).check()
        data = c.get_file(f"/tmp/{name}")
    out = Path(dest_dir) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return Tarball(url=str(out), sha256=hashlib.sha256(data).hexdigest(), version=version)
