"""A failed HTTP request in one sentence with the URL, instead of urllib3's text ("HTTPConnectionPool(host=...,
port=9): Max retries exceeded with url: ... (Caused by NewConnectionError(...))")."""

from __future__ import annotations


def describe_http_error(exc: Exception) -> str:
    """Why the request failed, in a few words; the caller says which URL."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        r = exc.response
        return f"the server answered HTTP {r.status_code}{' ' + r.reason if r.reason else ''}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "the server did not accept the connection in time"
    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS connection failed"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Name or service not known" in text or "nodename nor servname" in text or "NameResolutionError" in text:
            return "its host name does not resolve"
        if "refused" in text.lower():
            return "the connection was refused (nothing listens there)"
        return "the server could not be reached"
    if isinstance(exc, requests.TooManyRedirects):
        return "it redirects in a loop"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return "the URL is not valid"
    return type(exc).__name__
