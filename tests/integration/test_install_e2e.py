"""The new admin's story on real MediaWiki: `mwrelease install` (SQLite) from the channel's 1.39 release,
then verify -> upgrade to 1.43 -> verify -> rollback, all through the installed `mwrelease` command in a
container without network."""

from __future__ import annotations

from typing import Any

import pytest

from harness import URL, WIKI, AdminServer, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_install_verify_upgrade_verify_rollback(engine: Engine) -> None:
    import harness

    need_images(engine, harness.OLD_IMAGE)
    channel, old_v, new_v = harness.build_artifacts(engine)
    wheelhouse = harness.build_wheelhouse()
    with engine.container(harness.OLD_IMAGE, network_mode="none", mem_limit="4g",
                          labels={"mwrelease.purpose": "install-test"}) as c:
        s = AdminServer(c, channel, old_v, new_v)
        s.install_tools(wheelhouse)
        s.sh("mkdir -p /var/www && printf 'Admin-Password-9876\\n' > /root/pw && chmod 600 /root/pw")
        r = s.mwrelease("install", "--channel", "/srv/channel", "--line", old_v.rsplit(".", 1)[0], "--path", WIKI,
                        "--db", "sqlite", "--server", URL, "--admin", "Admin", "--admin-password-file", "/root/pw",
                        "--sitename", "Installed Wiki", "--json")
        env: dict[str, Any] = envelope(r)
        assert r.exit_code == 0, r.output[-4000:]
        assert env["data"]["version"] == old_v and "Admin-Password-9876" not in r.output
        s.start_server()
        api = s.sh(f"curl -s '{URL}/api.php?action=query&meta=siteinfo&format=json'").stdout
        assert f'"generator":"MediaWiki {old_v}"' in api and "Installed Wiki" in api, api[:500]
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["clean"] and v["data"]["files_checked"] > 10000, v
        s.sh(f"echo \"Hello from the installer test\" | php {WIKI}/maintenance/edit.php -q -u Admin 'Test page'")
        r = s.upgrade()
        assert r.exit_code == 0, r.output[-4000:]
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["core_version"] == new_v, v
        page = s.sh(f"curl -s '{URL}/index.php?title=Test_page&action=raw'").stdout
        assert "Hello from the installer test" in page
        rb = s.mwrelease("rollback", "--wiki", WIKI, "--json", "--yes", "--reload-command", "mwr-restart-server")
        assert rb.exit_code == 0, rb.output[-3000:]
        assert envelope(rb)["data"]["plan"]["lost_edits"]["revisions"] == 0
        v = envelope(s.mwrelease("verify", "--wiki", WIKI, "--json"))
        assert v["exit_code"] == 0 and v["data"]["core_version"] == old_v, v
        api = s.sh(f"curl -s '{URL}/api.php?action=query&meta=siteinfo&format=json'").stdout
        assert f'"generator":"MediaWiki {old_v}"' in api
