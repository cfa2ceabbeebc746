"""The new admin's story on real MediaWiki: `mwrelease install` from the channel's 1.39 release, then
verify -> upgrade to 1.43 -> verify -> rollback, all through the installed `mwrelease` command in a container
without network; on SQLite, and on MariaDB and PostgreSQL in a database container sharing its loopback."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest

from harness import URL, WIKI, AdminServer, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.mark.parametrize("db", ["sqlite", "mariadb", "postgres"])
def test_install_verify_upgrade_verify_rollback(engine: Engine, db: str) -> None:
    import harness

    db_image = {"mariadb": harness.DB_IMAGE, "postgres": harness.PG_IMAGE}.get(db)
    need_images(engine, harness.OLD_IMAGE, *((db_image,) if db_image else ()))
    channel, old_v, new_v = harness.build_artifacts(engine)
    wheelhouse = harness.build_wheelhouse()
    with ExitStack() as stack:
        network, db_args = "none", ["--db", "sqlite"]
        if db_image:
            from mwrelease.runner.mediawiki import start_database

            dbc = stack.enter_context(engine.container(db_image, network_mode="none",
                                                       labels={"mwrelease.purpose": "install-test-db"}))
            info = start_database(dbc, db)  # type: ignore[arg-type]
            network = dbc.peer_network_mode
            db_args = ["--db", db, "--db-server", "127.0.0.1", "--db-user", info.user, "--db-name", "wiki",
                       "--db-password-file", "/root/dbpw"]
        c = stack.enter_context(engine.container(harness.OLD_IMAGE, network_mode=network, mem_limit="6g",
                                                 tmpfs={"/var/www": "size=3g"},  # as harness.admin_server
                                                 labels={"mwrelease.purpose": "install-test"}))
        s = AdminServer(c, channel, old_v, new_v)
        s.install_tools(wheelhouse)
        s.sh("mkdir -p /var/www && printf 'Admin-Password-9876\\n' > /root/pw && chmod 600 /root/pw")
        if db_image:
            s.sh(f"printf '%s\\n' {info.password} > /root/dbpw && chmod 600 /root/dbpw")
        r = s.mwrelease("install", "--allow-unsigned", "--channel", "/srv/channel", "--line", old_v.rsplit(".", 1)[0], "--path", WIKI,
                        *db_args, "--server", URL, "--admin", "Admin", "--admin-password-file", "/root/pw",
                        "--sitename", "Installed Wiki", "--json")
        env: dict[str, Any] = envelope(r)
        assert r.exit_code == 0, r.output[-4000:]
        assert env["data"]["version"] == old_v and "Admin-Password-9876" not in r.output
        s.start_server()
        api = s.sh(f"curl -s '{URL}/api.php?action=query&meta=siteinfo&format=json'").stdout
        assert f'"generator":"MediaWiki {old_v}"' in api and "Installed Wiki" in api, api[:500]
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["clean"] and v["data"]["files_checked"] > 10000, v
        s.sh(f"echo 'Hello from the installer test' | php {WIKI}/maintenance/edit.php -q -u Admin 'Test page'")
        r = s.upgrade()
        assert r.exit_code == 0, r.output[-4000:]
        assert envelope(r)["data"]["stops"][0]["version"] == new_v
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["core_version"] == new_v, v
        page = s.sh(f"curl -s '{URL}/index.php?title=Test_page&action=raw'").stdout
        assert "Hello from the installer test" in page
        # An edit after the upgrade is what a rollback loses: the plan counts it.
        s.sh(f"echo 'Edited on the new release' | php {WIKI}/maintenance/run.php edit -q -u Admin 'Test page'")
        plan = envelope(s.mwrelease("rollback", "--wiki", WIKI, "--dry-run", "--json"))["data"]["plan"]
        assert plan["lost_edits"]["revisions"] == 1 and (plan["from"], plan["to"]) == (new_v, old_v), plan
        rb = s.mwrelease("rollback", "--wiki", WIKI, "--json", "--yes", "--reload-command", "mwr-restart-server")
        assert rb.exit_code == 0, rb.output[-3000:]
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["core_version"] == old_v, v
        api = s.sh(f"curl -s '{URL}/api.php?action=query&meta=siteinfo&format=json'").stdout
        assert f'"generator":"MediaWiki {old_v}"' in api
        page = s.sh(f"curl -s '{URL}/index.php?title=Test_page&action=raw'").stdout
        assert "Hello from the installer test" in page and "Edited on the new release" not in page
