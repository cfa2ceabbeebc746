"""Core and database images against a real Docker engine: cached builds, a wiki installed and served."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mwrelease.runner import images as im
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def _images(engine: Engine) -> None:
    need_images(engine, "mwrelease/base:bookworm")


def _need_base(engine: Engine, suite: str) -> None:
    need_images(engine, f"mwrelease/base:{suite}")


def test_image_build_is_cached_on_second_call(engine: Engine) -> None:
    recipe = im.Recipe(name="debian-package", repository="mwrelease/test-cache", variant="bookworm",
                       base="mwrelease/base:bookworm",
                       dockerfile=f"FROM mwrelease/base:bookworm\nRUN mkdir -p /etc/mwrelease && "
                                  f"echo '{{\"note\": \"{time.time()}\"}}' > /etc/mwrelease/image.json\n",
                       labels={"mwrelease.kind": "test"})
    built: list[im.BuiltImage] = []
    try:
        lines: list[str] = []
        first = im.ensure_image(engine, recipe, on_line=lines.append)
        built.append(first)
        assert not first.cached and any("RUN mkdir" in line for line in lines)
        second_lines: list[str] = []
        second = im.ensure_image(engine, recipe, on_line=second_lines.append)
        assert second.cached and second.id == first.id and second.tag == first.tag
        assert second_lines == []  # nothing was built, not even from the layer cache
        assert second.labels["mwrelease.key"] == recipe.key(engine.image("mwrelease/base:bookworm").id)  # type: ignore[union-attr]
    finally:
        for b in built:
            engine.remove_image(b.alias, force=True)
            engine.remove_image(b.tag, force=True)


@pytest.mark.parametrize("line", ["1.35", "1.39", "1.43"])
def test_install_wiki_and_siteinfo(engine: Engine, line: str) -> None:
    _need_base(engine, im.LINE_SUITES[line])
    image = im.core_image(engine, line)
    version = image.labels["mwrelease.mediawiki.version"]
    assert version.startswith(line + ".")
    assert image.labels["mwrelease.mediawiki.path"] == "/usr/share/mediawiki"
    assert "ParserFunctions" in image.labels["mwrelease.mediawiki.extensions"].split(",")
    with engine.container(image.tag) as c:
        wiki = mw.install_wiki(c, extensions=["ParserFunctions", "Cite"])
        assert wiki.local_settings == "/etc/mediawiki/LocalSettings.php"  # Debian: through two symlinks
        mw.start_server(c, wiki)
        info = mw.siteinfo(c, wiki)
        assert info["general"]["generator"] == f"MediaWiki {version}"
        assert info["general"]["phpversion"] == image.labels["mwrelease.php.version"]
        assert info["general"]["dbtype"] == "sqlite"
        assert {"ParserFunctions", "Cite"} <= {e["name"] for e in info["extensions"]}
        # A write through the API and a parse through a maintenance script.
        mw.login(c, wiki)
        token = mw.csrf_token(c, wiki)
        mw.api(c, {"action": "edit", "title": "Sandbox", "text": "{{#expr: 6*7}}<ref>x</ref>", "token": token},
               post=True)
        parsed = mw.api(c, {"action": "parse", "page": "Sandbox", "prop": "text"})
        assert "42" in parsed["parse"]["text"]
        r = mw.run_maintenance(c, "update", ["--quick"], timeout=600, wiki=wiki)
        assert r.ok
        with pytest.raises(mw.ApiError):
            mw.api(c, {"action": "no-such-action"})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_install_wiki_on_a_database_container(engine: Engine, kind: im.DbKind) -> None:
    db_image = im.db_image(engine, kind)
    core = im.core_image(engine, "1.39")
    with engine.container(db_image.tag) as db_c:
        database = mw.start_database(db_c, kind)
        with engine.container(core.tag, network_mode=db_c.peer_network_mode) as c:
            wiki = mw.install_wiki(c, database=database)
            mw.start_server(c, wiki)
            info = mw.siteinfo(c, wiki)
            assert info["general"]["dbtype"] == database.dbtype
            assert info["general"]["generator"].startswith("MediaWiki 1.39.")


@pytest.mark.slow
def test_tarball_recipe_from_a_debian_tree(engine: Engine, tmp_path: Path) -> None:
    _need_base(engine, "trixie")
    tarball = im.debian_tree_tarball(engine, "1.43", tmp_path)
    assert Path(tarball.url).name == f"mediawiki-{tarball.version}.tar.gz"
    recipe = im.tarball_recipe(tarball, data=im.fetch_tarball(tarball))
    built = im.ensure_image(engine, recipe)
    try:
        assert built.labels["mwrelease.mediawiki.path"] == im.TARBALL_MW_PATH
        assert built.labels["mwrelease.mediawiki.version"] == tarball.version
        with engine.container(built.tag) as c:
            wiki = mw.install_wiki(c)
            assert wiki.local_settings == f"{im.TARBALL_MW_PATH}/LocalSettings.php"
            mw.start_server(c, wiki)
            assert mw.siteinfo(c, wiki)["general"]["generator"] == f"MediaWiki {tarball.version}"
    finally:
        engine.remove_image(built.alias, force=True)
        engine.remove_image(built.tag, force=True)


def test_sqlite_wiki_moves_from_1_39_to_1_43(engine: Engine, tmp_path: Path) -> None:
    _need_base(engine, "bookworm")
    _need_base(engine, "trixie")
    old, new = im.core_image(engine, "1.39"), im.core_image(engine, "1.43")
    with engine.container(old.tag) as c:
        wiki = mw.install_wiki(c, extensions=["ParserFunctions"])
        mw.start_server(c, wiki)
        mw.login(c, wiki)
        mw.api(c, {"action": "edit", "title": "Kept", "text": "Old text {{#expr: 2+3}}",
                   "token": mw.csrf_token(c, wiki)}, post=True)
        mw.save_wiki(c, wiki, tmp_path / "state")
    with engine.container(new.tag) as c:
        wiki = mw.restore_wiki(c, tmp_path / "state")
        assert wiki.mediawiki_version.startswith("1.43.")
        mw.run_maintenance(c, "update", ["--quick"], wiki=wiki, timeout=600)
        mw.start_server(c, wiki)
        assert mw.siteinfo(c, wiki)["general"]["generator"] == f"MediaWiki {wiki.mediawiki_version}"
        text = mw.api(c, {"action": "parse", "page": "Kept", "prop": "text"})["parse"]["text"]
        assert "Old text 5" in text


def test_cli_build_list_prune_answer_json(engine: Engine) -> None:
    import json

    from click.testing import CliRunner

    from mwrelease.cli import cli

    _need_base(engine, "bookworm")
    im.core_image(engine, "1.39")  # so that the CLI build below is a cache hit
    runner = CliRunner()
    r = runner.invoke(cli, ["images", "build", "--line", "1.39", "--json"])
    assert r.exit_code == 0, r.output
    env = json.loads(r.stdout)
    assert env["command"] == "images build" and env["status"] == "ok"
    (img,) = env["data"]["images"]
    assert img["cached"] and img["labels"]["mwrelease.mediawiki.version"].startswith("1.39.")
    r = runner.invoke(cli, ["images", "list", "--json"])
    assert r.exit_code == 0 and img["tag"] in {t for i in json.loads(r.stdout)["data"]["images"] for t in i["tags"]}
    r = runner.invoke(cli, ["images", "prune", "--dry-run", "--json"])
    assert r.exit_code == 0 and img["tag"] not in json.loads(r.stdout)["data"]["removed_images"]
