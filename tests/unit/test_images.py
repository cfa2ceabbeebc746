"""Image recipes are pure data: their content keys are tested without Docker."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from mwrelease.errors import ConfigError
from mwrelease.runner import images as im

BASE_ID = "sha256:" + "a" * 64


def test_key_is_stable_and_tag_carries_it() -> None:
    r1 = im.debian_package_recipe("1.43")
    r2 = im.debian_package_recipe("1.43")
    assert r1.key(BASE_ID) == r2.key(BASE_ID)
    assert r1.tag(BASE_ID) == f"mwrelease/core:1.43-debian-{r1.key(BASE_ID)}"
    assert r1.alias == "mwrelease/core:1.43-debian"
    assert len(r1.key(BASE_ID)) == 16


def test_key_changes_with_base_image_id() -> None:
    r = im.debian_package_recipe("1.39")
    assert r.key(BASE_ID) != r.key("sha256:" + "b" * 64)


def test_key_changes_with_dockerfile_context_and_labels() -> None:
    r = im.debian_package_recipe("1.39")
    keys = {
        r.key(BASE_ID),
        dataclasses.replace(r, dockerfile=r.dockerfile + "RUN true\n").key(BASE_ID),
        dataclasses.replace(r, context_files={**r.context_files, "probe.php": b"<?php"}).key(BASE_ID),
        dataclasses.replace(r, labels={**r.labels, "x": "y"}).key(BASE_ID),
    }
    assert len(keys) == 4


def test_lines_map_to_suites_and_bases() -> None:
    assert "FROM mwrelease/base:bookworm\n" in im.debian_package_recipe("1.39").dockerfile
    assert "FROM mwrelease/base:trixie\n" in im.debian_package_recipe("1.43").dockerfile
    assert "FROM mwrelease/base:bullseye\n" in im.debian_package_recipe("1.35").dockerfile
    assert "FROM debian:trixie\n" in im.debian_package_recipe("1.43", source="registry").dockerfile
    with pytest.raises(ConfigError):
        im.debian_package_recipe("1.42")


def test_registry_and_debootstrap_recipes_differ_in_key() -> None:
    a = im.debian_package_recipe("1.43", source="debootstrap")
    b = im.debian_package_recipe("1.43", source="registry")
    assert a.key(BASE_ID) != b.key(BASE_ID)


def test_base_source_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MWRELEASE_BASE_IMAGES", raising=False)
    assert im.base_source_setting() == "debootstrap"
    monkeypatch.setenv("MWRELEASE_BASE_IMAGES", "registry")
    assert im.base_source_setting() == "registry"
    assert im.base_source_setting("debootstrap") == "debootstrap"  # the option wins
    monkeypatch.setenv("MWRELEASE_BASE_IMAGES", "podman-hub")
    with pytest.raises(ConfigError):
        im.base_source_setting()


def test_db_recipes() -> None:
    maria = im.db_recipe("mariadb")
    pg = im.db_recipe("postgres")
    assert maria.tag(BASE_ID).startswith("mwrelease/db-mariadb:bookworm-")
    assert pg.tag(BASE_ID).startswith("mwrelease/db-postgres:bookworm-")
    assert "mariadb-server" in maria.dockerfile and "postgresql" in pg.dockerfile


def test_tarball_key_uses_checksum_not_content() -> None:
    data = b"not really a tarball"
    tb = im.Tarball(url="/tmp/mediawiki-1.43.9.tar.gz", sha256=hashlib.sha256(data).hexdigest(), version="1.43.9")
    with_data = im.tarball_recipe(tb, data=data)
    without = im.tarball_recipe(tb)
    assert with_data.key(BASE_ID) == without.key(BASE_ID)
    assert with_data.tag(BASE_ID).startswith("mwrelease/core:1.43.9-tarball-")
    other = im.tarball_recipe(dataclasses.replace(tb, sha256="0" * 64), data=data)
    assert other.key(BASE_ID) != with_data.key(BASE_ID)
    assert "FROM mwrelease/base:trixie" in with_data.dockerfile
    assert "FROM php:8.4-cli" in im.tarball_recipe(tb, source="registry").dockerfile


def test_fetch_tarball_verifies_sha256(tmp_path: object) -> None:
    from pathlib import Path

    from mwrelease.errors import IntegrityError

    p = Path(str(tmp_path)) / "mediawiki-1.43.9.tar.gz"
    p.write_bytes(b"abc")
    good = im.Tarball(url=str(p), sha256=hashlib.sha256(b"abc").hexdigest(), version="1.43.9")
    assert im.fetch_tarball(good) == b"abc"
    with pytest.raises(IntegrityError):
        im.fetch_tarball(dataclasses.replace(good, sha256="0" * 64))


def test_facts_become_labels() -> None:
    labels = im.image_facts_labels({"mediawiki_version": "1.43.9", "php_version": "8.4.24",
                                    "mediawiki_path": "/usr/share/mediawiki", "extensions": ["Cite", "Echo"],
                                    "skins": ["Vector"], "package_version": "1:1.43.9+dfsg-1~deb13u1"})
    assert labels["mwrelease.mediawiki.version"] == "1.43.9"
    assert labels["mwrelease.php.version"] == "8.4.24"
    assert labels["mwrelease.mediawiki.extensions"] == "Cite,Echo"
    assert labels["mwrelease.mediawiki.skins"] == "Vector"
    assert labels["mwrelease.mediawiki.package"] == "1:1.43.9+dfsg-1~deb13u1"
