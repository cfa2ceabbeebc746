"""Issue 12, finding 6 (network half): a hostile or broken channel server cannot make mwrelease hang or fill
memory. A server on 127.0.0.1 drips bytes, or sends an endless index."""

from __future__ import annotations

import http.server
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwrelease.errors import IntegrityError, SourceError
from mwrelease.release.channel import ArtifactRef, ChannelClient


class _Handler(http.server.BaseHTTPRequestHandler):
    drip_every = 0.3  # seconds between bytes on /slow
    big = 64 << 20  # bytes of /big

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            if self.path.startswith("/slow"):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(self.drip_every)
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(self.big))
                self.end_headers()
                block = b"[" * (1 << 16)
                for _ in range(self.big // len(block)):
                    self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("drip", [0.3, 5.0])
def test_a_dripping_server_ends_with_a_clear_error_within_the_deadline(server: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       drip: float) -> None:
    monkeypatch.setattr(_Handler, "drip_every", drip)
    client = ChannelClient(server + "slow/", retries=0, timeout=30)
    client.deadline = 2.0
    t0 = time.monotonic()
    with pytest.raises(SourceError) as exc:
        client.read_bytes("index.json")
    took = time.monotonic() - t0
    assert took < client.deadline + 1.0, took
    assert "deadline" in exc.value.message or "timed out" in exc.value.message.lower()
    art = ArtifactRef(kind="full", file="mediawiki-1.43.1.tar.gz", sha256="0" * 64, size=1000)
    t0 = time.monotonic()
    with pytest.raises(SourceError):
        client.download(art, tmp_path)
    assert time.monotonic() - t0 < client.deadline + 1.0
    assert not list(tmp_path.iterdir())  # no partial file left


def test_an_endless_index_is_cut_off_while_streaming(server: str) -> None:
    client = ChannelClient(server, retries=0, timeout=30)
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match="larger than 1048576 bytes"):
            client.read_bytes("index.json", limit=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # the 64 MiB body never sits in memory


def test_a_huge_local_index_is_not_read_whole(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_bytes(b" " * (3 << 20))
    with pytest.raises(IntegrityError, match="larger than"):
        ChannelClient(str(tmp_path)).read_bytes("index.json", limit=1 << 20)
