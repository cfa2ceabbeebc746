from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest

from mwrelease.errors import IntegrityError, SourceError
from mwrelease.release.build import build_release
from mwrelease.release.channel import CHANNEL_FORMAT, ChannelClient, publish
from tests.unit.helpers import make_core, make_lock


@pytest.fixture
def channel(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (r139,) = build_release(make_lock("1.39.10"), make_core(tmp_path / "c139", "1.39.10"), out)
    (r434,) = build_release(make_lock("1.43.4"), make_core(tmp_path / "c434", "1.43.4"), out)
    r435, d435 = build_release(make_lock("1.43.5"), make_core(tmp_path / "c435", "1.43.5"), out,
                               previous=r434.manifest_path)
    ch = tmp_path / "channel"
    for a in (r435, r139, r434, d435):
        publish(a.tarball, ch)
    return ch


def test_index_format(channel: Path) -> None:
    index = json.loads((channel / "index.json").read_text())
    assert index["format"] == CHANNEL_FORMAT and index["signatures"] == []
    assert list(index["lines"]) == ["1.39-lts", "1.43-lts"]
    rel = index["lines"]["1.43-lts"]["releases"]
    assert [r["version"] for r in rel] == ["1.43.4", "1.43.5"]
    assert [a["kind"] for a in rel[1]["artifacts"]] == ["full", "delta"]
    assert rel[1]["artifacts"][1]["from"] == "1.43.4"
    assert rel[1]["upgrades_from"][0] == "1.39"


def test_republish_is_idempotent(channel: Path, tmp_path: Path) -> None:
    before = json.loads((channel / "index.json").read_text())
    publish(tmp_path / "out/mediawiki-1.39.10.tar.gz", channel)
    after = json.loads((channel / "index.json").read_text())
    assert before["lines"]["1.39-lts"]["releases"][0]["artifacts"] == after["lines"]["1.39-lts"]["releases"][0]["artifacts"]


@pytest.mark.parametrize("scheme", ["dir", "file"])
def test_read_and_download_local(channel: Path, tmp_path: Path, scheme: str) -> None:
    loc = str(channel) if scheme == "dir" else channel.as_uri()
    client = ChannelClient(loc)
    idx = client.index()
    newest = idx.newest("1.43")
    assert newest is not None and newest.version == "1.43.5"
    assert newest.delta_from("1.43.4") is not None
    m = client.manifest(newest.manifest_file, newest.manifest_sha256)
    assert m.core_version == "1.43.5"
    got: list[int] = []
    p = client.download(newest.full(), tmp_path / "dl", progress=got.append)
    assert p.stat().st_size == newest.full().size == sum(got)


def test_tampered_artifact_is_refused(channel: Path, tmp_path: Path) -> None:
    client = ChannelClient(str(channel))
    rel = client.index().newest("1.43")
    assert rel is not None
    target = channel / rel.full().file
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="tampered"):
        client.download(rel.full(), tmp_path / "dl")
    assert not (tmp_path / "dl" / rel.full().file).exists()
    assert not list((tmp_path / "dl").glob("*.part"))


def test_tampered_manifest_is_refused(channel: Path) -> None:
    client = ChannelClient(str(channel))
    rel = client.index().newest("1.43")
    assert rel is not None
    (channel / rel.manifest_file).write_text((channel / rel.manifest_file).read_text().replace("1.43.5", "1.43.6"))
    with pytest.raises(IntegrityError, match="sha256"):
        client.manifest(rel.manifest_file, rel.manifest_sha256)


@pytest.fixture
def http_channel(channel: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(channel))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_read_and_download_http(http_channel: str, tmp_path: Path, channel: Path) -> None:
    client = ChannelClient(http_channel)
    rel = client.index().newest("1.39")
    assert rel is not None
    p = client.download(rel.full(), tmp_path / "dl")
    assert p.exists()
    # Downloaded before (a killed run): used again without the network while it verifies ...
    (channel / rel.full().file).rename(channel / "gone")
    assert client.download(rel.full(), tmp_path / "dl") == p
    # ... and fetched again when it does not.
    (channel / "gone").rename(channel / rel.full().file)
    data = bytearray(p.read_bytes())
    data[100] ^= 1
    p.write_bytes(bytes(data))
    client.download(rel.full(), tmp_path / "dl")
    assert p.read_bytes() == (channel / rel.full().file).read_bytes()


def test_unreachable_channel_is_source_error(tmp_path: Path) -> None:
    client = ChannelClient("http://127.0.0.1:9/", retries=0, timeout=2)
    with pytest.raises(SourceError, match="Cannot download"):
        client.index()
    with pytest.raises(SourceError):
        ChannelClient(str(tmp_path / "nope")).index()


def test_not_a_channel(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"format": "something/1"}')
    with pytest.raises(SourceError, match="not an mwrelease release channel"):
        ChannelClient(str(tmp_path)).index()


@pytest.fixture
def https_channel(channel: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The channel over HTTPS on loopback, with a self-signed certificate for 127.0.0.1 (made by openssl)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    handler = functools.partial(_QuietHandler, directory=str(channel))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    server.shutdown()


def test_https_channel_verifies_the_certificate(https_channel: tuple[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url, cert = https_channel
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    # A certificate nobody vouches for: refused, saying why and what to do.
    with pytest.raises(SourceError, match="TLS certificate could not be verified") as exc:
        ChannelClient(url, retries=0, timeout=5).index()
    assert "REQUESTS_CA_BUNDLE" in (exc.value.hint or "")
    # The admin trusts the channel's CA: index, manifest and a verified download over HTTPS.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    client = ChannelClient(url, retries=0, timeout=5)
    rel = client.index().newest("1.43")
    assert rel is not None and rel.version == "1.43.5"
    manifest = client.manifest(rel.manifest_file, rel.manifest_sha256)
    assert manifest.core_version == "1.43.5"
    p = client.download(rel.full(), tmp_path / "dl")
    assert p.stat().st_size == rel.full().size
