"""Streaming downloads, shared by the channel client and `release build --core-tarball`: a retrying HTTP
session, chunked reading of a file or URL, and writing that keeps a file only when its sha256 verifies."""

from __future__ import annotations

import hashlib
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


def read_chunks(url: str, *, session: Any = None, timeout: float = 30.0, size: int = 1 << 20,
                local_error: str | None = None, hint: str | None = None) -> Iterator[bytes]:
    """The bytes of a local file (``session`` None) or of an http(s) URL, in chunks; SourceError when unreadable.

    ``local_error`` starts the message for an unreadable file ("Cannot read X from Y"); ``hint`` follows a failed
    download.
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

    try:
        with session.get(url, stream=True, timeout=timeout) as r:
            r.raise_for_status()
            yield from r.iter_content(chunk_size=size)
    except requests.RequestException as exc:
        raise download_error(f"Downloading {url} failed", exc, hint=hint) from None


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
