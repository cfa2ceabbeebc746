"""The engine wrapper against a real Docker engine (run ci/prepare-machine.sh first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwrelease.errors import EngineError
from mwrelease.runner.engine import Engine
from tests.integration.helpers import need_images

pytestmark = pytest.mark.docker

BASE = "mwrelease/base:bookworm"


@pytest.fixture(scope="module", autouse=True)
def _images(engine: Engine) -> None:
    need_images(engine, BASE)


def _exists(engine: Engine, cid: str) -> bool:
    return bool(engine.client.containers.list(all=True, filters={"id": cid}))


def test_container_is_labelled_and_removed_after_exit(engine: Engine) -> None:
    with engine.container(BASE) as c:
        assert _exists(engine, c.id)
        assert c.id not in engine.strays()  # its run (this process) is alive
        assert c.id in engine.strays(all_owners=True)
        assert c.exec(["true"], timeout=10).ok
    assert not _exists(engine, c.id)


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_container_is_removed_after_an_exception(engine: Engine, exc_type: type[BaseException]) -> None:
    cid = ""
    with pytest.raises(exc_type):
        with engine.container(BASE) as c:
            cid = c.id
            raise exc_type()
    assert cid and not _exists(engine, cid)


def test_keep_keeps_the_container(engine: Engine) -> None:
    with engine.container(BASE, keep=True) as c:
        pass
    try:
        assert _exists(engine, c.id)
    finally:
        engine.client.containers.get(c.id).remove(force=True)


def test_exec_result_and_streams(engine: Engine) -> None:
    with engine.container(BASE) as c:
        r = c.exec("echo out; echo err >&2; exit 3", timeout=10)
        assert (r.exit_code, r.stdout, r.stderr, r.timed_out) == (3, "out\n", "err\n", False)
        assert "out" in r.output and "err" in r.output
        r = c.exec(["pwd"], timeout=10, workdir="/tmp", env={"X": "1"})
        assert r.stdout.strip() == "/tmp"
        assert c.exec(["sh", "-c", "echo $X"], timeout=10, env={"X": "42"}).stdout.strip() == "42"
        assert c.exec(["id", "-un"], timeout=10, user="nobody").stdout.strip() == "nobody"


def test_timeout_kills_a_long_command(engine: Engine) -> None:
    with engine.container(BASE) as c:
        r = c.exec(["sleep", "100"], timeout=2)
        assert r.timed_out and r.exit_code == 124
        assert r.duration < 15
        # A shell's children are killed too (timeout signals the whole process group).
        r = c.exec("sleep 100; echo never", timeout=2)
        assert r.timed_out and "never" not in r.output
        procs = c.exec("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done", timeout=10).stdout
        assert "sleep 100" not in procs


def test_output_is_decoded_across_frames(engine: Engine) -> None:
    with engine.container(BASE) as c:
        r = c.exec("for i in $(seq 2000); do printf 'é€'; done", timeout=20)
        assert r.stdout == "é€" * 2000


def test_network_none_has_only_loopback(engine: Engine) -> None:
    with engine.container(BASE) as c:
        devs = c.exec(["cat", "/proc/net/dev"], timeout=10).stdout
        names = {line.split(":")[0].strip() for line in devs.splitlines()[2:] if ":" in line}
        assert names == {"lo"}
        routes = c.exec(["cat", "/proc/net/route"], timeout=10).stdout.strip().splitlines()
        assert len(routes) <= 1  # the header only: no route leads anywhere


def test_files_in_and_out(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("alpha")
    (src / "b.txt").write_text("beta")
    with engine.container(BASE) as c:
        c.put_files("/opt/x", {"one.txt": b"1", "deep/two.txt": b"2"})
        assert c.get_file("/opt/x/deep/two.txt") == b"2"
        c.put_tree(src, "/opt/tree")
        assert c.get_file("/opt/tree/sub/a.txt") == b"alpha"
        c.exec(["ln", "-s", "/etc/hostname", "/opt/tree/link"], timeout=10).check()
        out = c.get_tree("/opt/tree", tmp_path / "out")
        assert (out / "b.txt").read_text() == "beta"
        assert (out / "sub" / "a.txt").read_text() == "alpha"
        assert (out / "link").is_symlink()
        with pytest.raises(EngineError):
            c.get_file("/does/not/exist")


def test_second_container_shares_the_network_namespace(engine: Engine) -> None:
    # A server in the first container is reachable over the loopback of the second (database pattern).
    core = next((i.tags[0] for i in engine.list_images("mwrelease.kind=core") if i.tags), None)
    if core is None:
        pytest.skip("no core image: run `mwrelease images build`")
    with engine.container(core) as server:
        server.put_files("/srv/www", {"hello.txt": b"shared loopback"})
        server.start_background("exec php -S 127.0.0.1:9000 -t /srv/www")
        with engine.container(core, network_mode=server.peer_network_mode) as client:
            r = client.exec("for i in $(seq 50); do curl -sf http://127.0.0.1:9000/hello.txt && exit 0; "
                            "sleep 0.1; done; exit 1", timeout=30)
            assert r.ok and r.stdout == "shared loopback"


def test_no_engine_gives_an_engine_error() -> None:
    with pytest.raises(EngineError) as info:
        Engine.connect("unix:///nonexistent/docker.sock")
    assert "prepare-machine.sh" in (info.value.hint or "")
