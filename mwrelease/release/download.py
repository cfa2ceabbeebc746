"""Streaming downloads, shared by the channel client and `release build --core-tarball`: a retrying HTTP
session, chunked reading of a file or URL, and writing that keeps a file only when its sha256 verifies."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mwrelease.errors import IntegrityError, SourceError
from mwrelease.fsutil import replacing


def http_session(retries: int) -> Any:
    """A requests session that retries connection errors and 429/5xx answers with a short backoff."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    s = requests.Session()
    retry = Retry(total=retries, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"GET", "HEAD"}))
    s.mount("http://", HTTPAdapter(max_retries=retry))
    s.mount("https://", HTTPAdapter(max_retries=retry))
    s.headers["User-Agent"] = "mwrelease (MediaWiki release manager)"
    return s


DEADLINE = 3600.0  # seconds for a whole download, whatever the server's pace; each read also has its timeout


def read_chunks(url: str, *, session: Any = None, timeout: float = 30.0, size: int = 1 << 20,
                local_error: str | None = None, hint: str | None = None,
                deadline: float | None = DEADLINE, failed: str | None = None) -> Iterator[bytes]:
    """The bytes of a local file (``session`` None) or of an http(s) URL, in chunks; SourceError when unreadable.

    ``local_error`` starts the message for an unreadable file ("Cannot read X from Y"); ``hint`` follows a failed
    download (``failed`` replaces its "Downloading URL failed"). A download ends with a SourceError once ``deadline`` seconds have passed, even when the server keeps
    sending a byte now and then (no single read times out): chunks are what one read brings (``read1``), and the
    time is checked after each.
    """
    if session is None:
        try:
            with open(url, "rb") as fh:
                while chunk := fh.read(size):
                    yield chunk
        except OSError as exc:
            raise SourceError(f"{local_error or f'Cannot read {url}'}: {exc.strerror}.") from None
        return
    import requests
    import urllib3

    t0 = time.monotonic()
    per_read = min(timeout, deadline) if deadline else timeout
    try:
        with session.get(url, stream=True, timeout=per_read) as r:
            r.raise_for_status()
            while chunk := r.raw.read1(size, decode_content=True):
                if deadline is not None and time.monotonic() - t0 > deadline:
                    raise SourceError(f"Downloading {url} took longer than its deadline of {deadline:g} s (the "
                                      "server sends too slowly); it was stopped.", hint=hint)
                yield chunk
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if deadline is not None and time.monotonic() - t0 > deadline:
            raise SourceError(f"Downloading {url} took longer than its deadline of {deadline:g} s; it was stopped.",
                              hint=hint) from None
        raise download_error(failed or f"Downloading {url} failed", exc, hint=hint) from None


def read_capped(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """At most ``limit`` bytes from ``chunks``, stopping as soon as more arrive (a huge index never sits in
    memory): IntegrityError then."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise IntegrityError(f"{what} is larger than {limit} bytes; refusing it.",
                                 hint="Nothing was changed. Tell the channel's maintainers.")
    return bytes(buf)


def download_error(what: str, exc: Exception, *, hint: str | None) -> SourceError:
    """A failed request as a SourceError; a TLS certificate that does not verify says so, and what to do."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return SourceError(f"{what}: the server's TLS certificate could not be verified ({exc}). mwrelease only "
                           "installs from a channel whose certificate verifies, so nothing was downloaded.",
                           hint="If the channel uses a private certificate authority, point REQUESTS_CA_BUNDLE at "
                                "its certificate (a PEM file); otherwise tell the channel's maintainers.")
    from mwrelease.release.httperrors import describe_http_error

    return SourceError(f"{what}: {describe_http_error(exc)}.", hint=hint)


def stream_verified(chunks: Iterable[bytes], dest: Path, *, sha256: str, size: int | None = None,
                    mismatch: Callable[[str, int, bool], IntegrityError],
                    progress: Callable[[int], None] | None = None) -> Path:
    """Write ``chunks`` to ``dest``, hashing while they stream; ``dest`` appears only when they verify.

    The bytes go to a temporary file beside ``dest`` first (``fsutil.replacing``), which is removed on any
    failure. When more than ``size`` bytes arrive, or the sha256 (or the size, when given) differs at the end,
    ``mismatch(actual_sha256, bytes_read, too_large)`` makes the error to raise.
    """
    h = hashlib.sha256()
    got = 0
    with replacing(dest) as tmp:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                got += len(chunk)
                if size is not None and got > size:
                    raise mismatch(h.hexdigest(), got, True)
                h.update(chunk)
                out.write(chunk)
                if progress:
                    progress(len(chunk))
        if h.hexdigest() != sha256 or (size is not None and got != size):
            raise mismatch(h.hexdigest(), got, False)
    return dest
