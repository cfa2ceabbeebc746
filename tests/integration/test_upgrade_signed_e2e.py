"""End to end on real MediaWiki, issue 9: a 1.39 wiki upgrades to 1.43 from a channel the SIG signed (sig init,
release propose, 2 of 3 members approve, channel publish, with throwaway keys), after `mwrelease channel trust`;
the same channel tampered with, and the channel before `channel trust`, are refused with exit 8 and the wiki
untouched.

Needs the Docker engine and the core images (ci/prepare-machine.sh); skipped otherwise. Several minutes.
"""

from __future__ import annotations

import shutil
from typing import Any, Iterator

import pytest

# harness is tests/fixtures/upgrade/harness.py, on sys.path through tests/integration/conftest.py.
from harness import assert_unchanged, assert_upgraded, envelope
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images
from tests.trust_channel import SigChannel

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import harness

    need_images(engine, harness.OLD_IMAGE, harness.NEW_IMAGE)
    plain, old_v, new_v = harness.build_artifacts(engine)
    # The SIG's side on the host: a signed channel holding both releases, each approved by 2 of 3 members.
    # The old layout's files stay at the top too, because the harness unpacks the 1.39 wiki from
    # /srv/channel/mediawiki-1.39.x.tar.gz; the TUF client reads only metadata/ and targets/.
    base = tmp_path_factory.mktemp("signed")
    channel = base / "channel"
    shutil.copytree(plain, channel)
    sig = SigChannel(channel)
    sig.release(plain / f"mediawiki-{old_v}.tar.gz", approvers=("alice", "bob"), proposals=base / "proposals")
    sig.release(plain / f"mediawiki-{new_v}.tar.gz", approvers=("bob", "carol"), proposals=base / "proposals")
    wheelhouse = harness.build_wheelhouse()
    servers = harness.admin_server(engine, wheelhouse, channel, old_v, new_v, db="sqlite")
    s = next(servers)
    s.root_sha256 = sig.root_sha256()
    try:
        yield s
    finally:
        servers.close()  # removes the container


@pytest.fixture(scope="module")
def pristine(server: Any) -> dict[str, Any]:
    server.reset()
    snap: dict[str, Any] = server.snapshot()
    assert snap["version"] == server.old_v
    return snap


def test_untrusted_then_tampered_signed_channel_is_refused(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    r = server.upgrade(allow_unsigned=False)
    assert r.exit_code == 8, r.output[-3000:]
    assert "is not trusted on this computer yet: run `mwrelease channel trust /srv/channel --root-sha256 HEX`" \
        in envelope(r)["errors"][0]["message"]
    assert_unchanged(server, pristine)

    tampered = "/srv/channel-tampered"
    art = f"mediawiki-{server.new_v}.tar.gz"
    server.sh(f"rm -rf {tampered} && cp -a /srv/channel {tampered} && f=$(ls {tampered}/targets/*.{art}) && "
              "printf 'X' | dd of=$f bs=1 seek=5000000 conv=notrunc status=none")
    t = server.mwrelease("channel", "trust", tampered, "--root-sha256", server.root_sha256)
    assert t.exit_code == 0, t.output[-3000:]  # the metadata verifies: only the artifact was changed
    r = server.upgrade(channel=tampered, allow_unsigned=False)
    assert r.exit_code == 8, r.output[-3000:]
    assert f"{art} differs from the file the SIG signed" in envelope(r)["errors"][0]["message"]
    assert_unchanged(server, pristine)


def test_upgrade_from_the_signed_channel(server: Any, pristine: dict[str, Any]) -> None:
    server.reset()
    t = server.mwrelease("channel", "trust", "/srv/channel", "--root-sha256", server.root_sha256)
    assert t.exit_code == 0, t.output[-3000:]
    assert "SIG members: alice, bob, carol; 2 approvals per release" in t.output
    dry = server.upgrade("--dry-run", allow_unsigned=False)
    assert dry.exit_code == 0, dry.output[-3000:]
    assert "approved by bob, carol" in dry.output
    r = server.upgrade(allow_unsigned=False)
    assert r.exit_code == 0, r.output[-4000:]
    assert_upgraded(server, pristine)
    st = envelope(server.mwrelease("status", "--wiki", "/var/www/wiki", "--channel", "/srv/channel", "--json"))
    assert st["data"]["channel"]["update_available"] is False
