"""What a failed fetch is called: aiohttp (and other) exceptions and HTTP statuses
translated to :class:`~monitor.errors.FetchError` reasons, their details short
and without the URLs' secrets."""

from __future__ import annotations

import logging
import ssl

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, DecompressSizeError

from monitor.config import redact_urls
from monitor.errors import FetchError
from monitor.retry_after import parse_retry_after

log = logging.getLogger("monitor.sources.fetch")


def status_error(resp: aiohttp.ClientResponse) -> FetchError:
    status = resp.status
    reason = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "http_3xx"
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    return FetchError(reason, f"HTTP {status}", status=status, retry_after=retry_after)


_REASONS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((TimeoutError,), "timeout"),
    ((aiohttp.ClientConnectorDNSError,), "dns"),
    ((aiohttp.ClientSSLError, ssl.SSLError), "tls"),
    ((aiohttp.ClientConnectorError,), "connect"),
    ((aiohttp.InvalidURL,), "bad_url"),
    ((DecompressSizeError,), "too_large"),  # one chunk inflating past aiohttp's own bound
    ((ContentEncodingError,), "bad_encoding"),
    ((aiohttp.ClientPayloadError, aiohttp.ClientResponseError), "protocol"),
    ((aiohttp.ClientConnectionError, OSError), "connect"),
    ((aiohttp.ClientError,), "protocol"),
)


def translate(exc: Exception, timeout: float) -> FetchError:
    """The FetchError for an aiohttp (or other) exception raised by one fetch."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return FetchError("timeout", f"no complete answer within {timeout:g}s")
    cause = exc.__cause__ if isinstance(exc, aiohttp.ClientPayloadError) else None
    for types, reason in _REASONS:
        if isinstance(cause, types) or isinstance(exc, types):
            return FetchError(reason, _describe(exc))
    log.warning("fetch_unexpected_error error=%s", _describe(exc))  # no traceback: URLs
    return FetchError("protocol", _describe(exc))


def _describe(exc: BaseException) -> str:
    """``Type: message``, short, without the request's URL (aiohttp puts it in
    ClientResponseError's text; other URLs are cut by :func:`_scrub`)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"{exc.status}, message={exc.message!r}"
    elif isinstance(exc, aiohttp.InvalidURL):
        text = "invalid URL"
    else:
        text = str(exc)
    return f"{type(exc).__name__}: {text}"[:300]


def scrub(exc: FetchError, *, paths: bool) -> None:
    """Cut every URL in ``exc``'s detail to scheme, host (and path)."""
    detail = redact_urls(exc.detail, paths=paths)
    if detail != exc.detail:
        exc.detail = detail
        exc.args = (f"{exc.reason}: {detail}",)
