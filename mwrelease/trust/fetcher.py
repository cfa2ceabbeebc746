"""The fetcher python-tuf's Updater reads a channel with: directories and file:// URLs from disk, http(s) through
tuf's own Urllib3Fetcher. Every read is bounded by the Updater (the signed length, or its maximum for metadata)."""

from __future__ import annotations

import urllib.parse
from typing import Any, Iterator

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher


class ChannelFetcher(FetcherInterface):
    """A ``tuf.ngclient.FetcherInterface``: file:// URLs are read from disk in chunks (a missing file is a 404, as
    the root chain walk expects); http(s) goes through tuf's own Urllib3Fetcher. The Updater bounds every read by
    the signed length (or its maximum for unsized metadata), so an endless file is cut off, never held whole.

    It also keeps the bytes of the metadata files it served (bounded likewise) so that a refusal can say what the
    channel claimed (the expiry date, the release that lacks approvals)."""

    def __init__(self, *, timeout: int = 30, chunk: int = 1 << 20) -> None:
        from mwrelease import __version__

        self.http = Urllib3Fetcher(socket_timeout=timeout, app_user_agent=f"mwrelease/{__version__}")
        self.chunk = chunk
        self.seen: dict[str, bytes] = {}
        self.last_url = ""

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.last_url = url
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "file":
            path = urllib.parse.unquote(parsed.path)
            try:
                fh = open(path, "rb")
            except FileNotFoundError:
                raise DownloadHTTPError(f"{path} does not exist", 404) from None
            except (IsADirectoryError, PermissionError) as exc:
                raise DownloadHTTPError(f"{path}: {exc.strerror}", 403) from None
            chunks = _file_chunks(fh, self.chunk)
        else:
            chunks = self.http.fetch(url)
        return self._remember(url, chunks) if "/metadata/" in url else chunks

    def _remember(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        got: list[bytes] = []
        size = 0
        try:
            for c in chunks:
                if size < 8 << 20:  # above any metadata bound the Updater allows
                    got.append(c)
                    size += len(c)
                yield c
        finally:
            self.seen[url] = b"".join(got)


def _file_chunks(fh: Any, size: int) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(size):
            yield chunk


__all__ = ["ChannelFetcher"]
