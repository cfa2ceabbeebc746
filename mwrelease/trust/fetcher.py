"""The fetcher python-tuf's Updater reads a channel with: directories and file:// URLs from disk, http(s) through
tuf's own Urllib3Fetcher. Every read is bounded by the Updater (the signed length, or its maximum for metadata)
and, over HTTP, by a deadline per file (``release.download.DEADLINE``, as for unsigned channels)."""

from __future__ import annotations

import math
import time
import urllib.parse
from typing import Any, Iterator

import urllib3
from tuf.api.exceptions import DownloadError, DownloadHTTPError, SlowRetrievalError
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from mwrelease.release import download


class ChannelFetcher(FetcherInterface):
    """A ``tuf.ngclient.FetcherInterface``: file:// URLs are read from disk in chunks (a missing file is a 404, as
    the root chain walk expects); http(s) goes through tuf's own Urllib3Fetcher. The Updater bounds every read by
    the signed length (or its maximum for unsized metadata), so an endless file is cut off, never held whole.

    tuf's socket timeout only bounds the gap between two bytes: a server that sends one byte every few seconds
    would hold ``upgrade`` for hours. So each HTTP file also has ``deadline`` seconds in all (request, headers and
    body); past it the download ends with tuf's ``SlowRetrievalError``, which the client reports as a channel that
    cannot be read (SourceError, exit 4). It ends at most one per-read timeout after the deadline, and the per-read
    timeout is never longer than the deadline.

    It also keeps the bytes of the metadata files it served (bounded likewise) so that a refusal can say what the
    channel claimed (the expiry date, the release that lacks approvals)."""

    def __init__(self, *, timeout: int = 30, chunk: int = 1 << 20, deadline: float | None = None) -> None:
        from mwrelease import __version__

        self.http = _ReadOnceFetcher(socket_timeout=timeout, app_user_agent=f"mwrelease/{__version__}")
        self.timeout = timeout
        self.deadline = download.DEADLINE if deadline is None else deadline  # read now: tests may shorten it
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
            chunks = self._http_chunks(url)
        return self._remember(url, chunks) if "/metadata/" in url else chunks

    def _http_chunks(self, url: str) -> Iterator[bytes]:
        t0 = time.monotonic()
        # tuf types its timeout as whole seconds; 0 would mean non-blocking, hence at least 1.
        self.http.socket_timeout = max(1, math.ceil(min(self.timeout, self.deadline)))
        try:
            body = self.http.fetch(url)  # the request and the headers: bounded by the per-read timeout only
        except SlowRetrievalError:
            self._check_deadline(url, t0)
            raise
        return self._within_deadline(url, body, t0)

    def _within_deadline(self, url: str, body: Iterator[bytes], t0: float) -> Iterator[bytes]:
        try:
            for chunk in body:
                self._check_deadline(url, t0)  # after each socket read (see _ReadOnceFetcher)
                yield chunk
        except SlowRetrievalError as exc:
            if exc.__cause__ is not None:  # tuf's per-read timeout, not our deadline: name the deadline if it passed
                self._check_deadline(url, t0)
            raise
        finally:
            close = getattr(body, "close", None)  # now, not when the traceback that holds this frame is freed
            if close is not None:
                close()

    def _check_deadline(self, url: str, t0: float) -> None:
        if time.monotonic() - t0 > self.deadline:
            # No __cause__: refusals.cause() shows this sentence as the reason the channel cannot be read.
            raise SlowRetrievalError(f"downloading {url} took longer than its deadline of {self.deadline:g} s (the "
                                     "server sends too slowly); it was stopped")

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


class _ReadOnceFetcher(Urllib3Fetcher):
    """tuf's Urllib3Fetcher, but a chunk is what one socket read brings (``read1``, as release/download.py): its
    ``response.stream(n)`` waits until n bytes (400 kB) have arrived, so a dripping server would hold one chunk,
    and the deadline check between chunks, for hours."""

    def _chunks(self, response: Any) -> Iterator[bytes]:
        done = False
        try:
            while chunk := response.read1(self.chunk_size):
                yield chunk
            done = True
        except urllib3.exceptions.TimeoutError as e:  # the per-read timeout, as in tuf's own _chunks
            raise SlowRetrievalError from e
        except urllib3.exceptions.HTTPError as e:  # a broken connection is a failed download, not a trust failure
            raise DownloadError("the download broke off") from e
        finally:
            if not done:
                response.close()  # an abandoned body (cut off, past its deadline): never reuse its connection
            response.release_conn()


def _file_chunks(fh: Any, size: int) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(size):
            yield chunk


__all__ = ["ChannelFetcher"]
