"""Issue 12, signed half: a signed (TUF) channel server on 127.0.0.1 that drips bytes cannot stall `upgrade`,
`status` or `channel show`. Each HTTP file the TUF fetcher reads has a total deadline (the one unsigned channels
use, ``release.download.DEADLINE``) besides tuf's per-read socket timeout; here it is shortened to 2 s."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from tuf.api.exceptions import DownloadError

from mwrelease.errors import SourceError
from mwrelease.release import download
from mwrelease.trust.client import TrustedChannel, trust_channel
from mwrelease.trust.fetcher import ChannelFetcher
from tests.trust_channel import SignedChannel, one_release

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 2.0
SLACK = 1.5  # the check comes after the read that crosses the deadline (at most one per-read timeout of 2 s)


class DripServer:
    """Serves ``directory`` on 127.0.0.1; a file whose URL path ends with one of ``drip`` is sent one byte every
    ``every`` seconds (with its true Content-Length, so only the pace is wrong); one ending with one of ``cut``
    stops after half its bytes and closes the connection."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.drip: set[str] = set()
        self.cut: set[str] = set()
        self.every = 0.3
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, directory=str(outer.directory), **kw)

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if not any(self.path.endswith(s) for s in outer.drip | outer.cut):
                    return super().do_GET()
                data = Path(self.translate_path(self.path)).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if any(self.path.endswith(s) for s in outer.cut):
                    self.wfile.write(data[:len(data) // 2])
                    self.close_connection = True
                    return
                try:
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(outer.every)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: that is the point

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> DripServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


pytestmark = pytest.mark.usefixtures("trust_store")  # tests/unit/conftest.py


@pytest.fixture
def channel(tmp_path: Path) -> SignedChannel:
    return one_release(tmp_path / "channel")


@pytest.fixture
def server(channel: SignedChannel) -> Iterator[DripServer]:
    with DripServer(channel.dir) as s:
        yield s


# --- the fetcher -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("every", [0.3, 5.0])  # under and over the per-read timeout
def test_the_fetcher_stops_a_dripping_download_at_its_deadline(tmp_path: Path, every: float) -> None:
    (tmp_path / "slow.bin").write_bytes(b"x" * 1000)  # 5 to 83 minutes at this pace
    (tmp_path / "fast.bin").write_bytes(os.urandom(3 << 20))
    with DripServer(tmp_path) as s:
        s.drip, s.every = {"slow.bin"}, every
        fetcher = ChannelFetcher(timeout=30, deadline=DEADLINE)
        t0 = time.monotonic()
        with pytest.raises(DownloadError) as exc:  # tuf's SlowRetrievalError, a DownloadError
            fetcher.download_bytes(s.url + "slow.bin", 10_000)
        took = time.monotonic() - t0
        assert took < DEADLINE + SLACK, took
        assert f"took longer than its deadline of {DEADLINE:g} s" in str(exc.value)
        # the same fetcher (and its connection pool) still reads a healthy file whole, in one-read chunks
        assert fetcher.download_bytes(s.url + "fast.bin", 4 << 20) == (tmp_path / "fast.bin").read_bytes()


def test_a_connection_that_breaks_off_is_a_download_error(tmp_path: Path) -> None:
    (tmp_path / "cut.bin").write_bytes(b"x" * 100_000)
    with DripServer(tmp_path) as s:
        s.cut = {"cut.bin"}
        with pytest.raises(DownloadError, match="broke off"):  # tuf's own fetcher lets urllib3's ProtocolError out
            ChannelFetcher().download_bytes(s.url + "cut.bin", 200_000)


def test_the_fetcher_deadline_is_the_unsigned_download_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ChannelFetcher().deadline == download.DEADLINE == 3600.0
    monkeypatch.setattr(download, "DEADLINE", DEADLINE)
    assert ChannelFetcher().deadline == DEADLINE


# --- the real client path --------------------------------------------------------------------------------

def _dripping_file(channel: SignedChannel, which: str) -> str:
    return "metadata/timestamp.json" if which == "timestamp" else channel.target_path("index.json").name


@pytest.mark.parametrize("which", ["timestamp", "index"])  # a refresh's metadata, a target read after it
def test_a_dripping_signed_channel_is_a_clear_source_error_within_the_deadline(
        channel: SignedChannel, server: DripServer, monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    trust_channel(server.url, root_sha256=channel.root_sha256())  # at full speed
    monkeypatch.setattr(download, "DEADLINE", DEADLINE)
    server.drip = {_dripping_file(channel, which)}
    tc = TrustedChannel(server.url)
    t0 = time.monotonic()
    with pytest.raises(SourceError) as exc:
        tc.index()  # refresh (root, timestamp, snapshot, targets), then the signed index.json
    took = time.monotonic() - t0
    assert took < DEADLINE + SLACK, took
    assert exc.value.exit_code == 4  # the channel cannot be read, as when it is unreachable; not a trust failure
    assert exc.value.message.startswith(f"Channel {server.url} cannot be read: downloading {server.url}")
    assert f"took longer than its deadline of {DEADLINE:g} s (the server sends too slowly)" in exc.value.message


def test_channel_show_against_a_dripping_channel_exits_4_without_a_traceback(
        channel: SignedChannel, server: DripServer, trust_store: Path) -> None:
    trust_channel(server.url, root_sha256=channel.root_sha256())
    server.drip = {"metadata/timestamp.json"}
    code = ("import sys; from mwrelease.release import download; download.DEADLINE = float(sys.argv[1]); "
            "from mwrelease.cli import main; main(['channel', 'show', sys.argv[2]])")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, str(DEADLINE), server.url], capture_output=True, text=True,
                       cwd=REPO, env={**os.environ, "MWRELEASE_TRUST_DIR": str(trust_store)}, timeout=60)
    assert time.monotonic() - t0 < 30  # the timestamp alone would take minutes at this pace
    assert r.returncode == 4, r.stderr
    assert "cannot be read: downloading" in r.stderr and "deadline of 2 s" in r.stderr
    assert "Traceback" not in r.stderr
