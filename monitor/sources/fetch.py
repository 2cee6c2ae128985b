"""Fetch one feed over HTTP(S), defensively.

A conditional GET under one deadline (redirects and body included), the body
capped after decompression, redirects followed by hand, and an SSRF guard on
the resolved address of every hop::

    async with Fetcher(config.fetch) as fetcher:
        result = await fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)

Every failure is a :class:`~monitor.errors.FetchError` whose ``reason`` is one of
:data:`~monitor.errors.FETCH_REASONS`.
Its ``detail`` never holds a URL's userinfo, query or fragment (aiohttp puts the
whole URL in its messages), nor any URL's path when the URL fetched was a
:class:`~monitor.config.Secret`. Otherwise only :class:`NotStarted` (the stop
event was set before the fetch got its slot) and ``asyncio.CancelledError`` escape.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import MappingProxyType, TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.http_exceptions import ContentEncodingError, DecompressSizeError
from multidict import CIMultiDictProxy
from yarl import URL

from monitor.addresses import Allowed, is_allowed, parse_allowlist
from monitor.config import FetchConfig, Secret, redact_urls, reveal
from monitor.errors import BlockedAddress, FetchError
from monitor.retry_after import parse_retry_after

log = logging.getLogger(__name__)

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9,"
    " text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
_CHUNK = 64 * 1024

Admit = Callable[[], Awaitable[None]]


class NotStarted(Exception):
    """The stop event was set while the fetch waited for its slot: nothing was sent."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int  # 2xx, or 304 when the validators matched
    body: bytes  # decompressed body, b"" on 304
    headers: Mapping[str, str]  # response headers of the final hop, keys lower-cased
    url: str  # final URL after redirects
    etag: str | None  # validators to persist for the next conditional GET
    last_modified: str | None
    elapsed: float  # seconds, from the first byte sent (waiting for a slot not included)


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and drops the addresses the SSRF policy refuses;
    raises :class:`BlockedAddress` when none is left. aiohttp calls it for host
    names only: IP literals are checked by :meth:`Fetcher._check_hop`."""

    def __init__(self, inner: AbstractResolver, allow: tuple[Allowed, ...]) -> None:
        self._inner = inner
        self._allow = allow

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if _admits(r["host"], r["port"], self._allow)]
        if not kept:
            addresses = ", ".join(sorted({r["host"] for r in found}))
            raise BlockedAddress(f"{host}:{port} resolves to {addresses}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _admits(host: str, port: int, allow: tuple[Allowed, ...]) -> bool:
    try:
        return is_allowed(ipaddress.ip_address(host), port, allow)
    except ValueError:  # not an address we can judge: refuse
        return False


class _Slots:
    """Per-host and global concurrency limits, taken before a fetch's deadline starts
    (so a fetch queued behind others is not timed out by the wait)."""

    def __init__(self, per_host: int, total: int) -> None:
        self._per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        sem, users = self._hosts.setdefault(host, (asyncio.Semaphore(self._per_host), [0]))
        users[0] += 1
        try:
            async with sem, self._total:  # host first: a busy host holds no global slot
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._hosts[host]


class Fetcher:
    """Fetches feeds through one aiohttp session; an async context manager."""

    def __init__(self, config: FetchConfig) -> None:
        self._config = config
        self._allow = parse_allowlist(config.allow_networks)  # ValueError on a bad entry
        self._slots = _Slots(config.per_host, config.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._headers = {
            "User-Agent": reveal(config.user_agent),
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }

    async def __aenter__(self) -> Fetcher:
        self._resolver = GuardedResolver(aiohttp.DefaultResolver(), self._allow)
        connector = aiohttp.TCPConnector(
            limit=self._config.concurrency,
            limit_per_host=self._config.per_host,
            resolver=self._resolver,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=min(self._config.connect_timeout, self._config.timeout)
            ),
            cookie_jar=aiohttp.DummyCookieJar(),  # no state carried from one feed to another
            trust_env=False,  # never a proxy from the environment
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:  # the connector closes only resolvers it made
            await self._resolver.close()
            self._resolver = None

    async def fetch(
        self,
        url: str | Secret,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        admit: Admit | None = None,
        stop: asyncio.Event | None = None,
    ) -> FetchResult:
        """GET ``url``; raises FetchError (or BlockedAddress) with a short reason code.

        ``admit``, if given, is awaited once a 2xx body has been read, before the
        fetch's slot is let go (outside the deadline): the parser's back-pressure,
        which pauses fetching while the parser is behind, never a slow body. When
        ``stop`` is set before the fetch gets its slot, :class:`NotStarted` is raised."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        hide_paths = isinstance(url, Secret)
        try:
            try:
                target = URL(reveal(url))
            except (ValueError, TypeError) as exc:
                raise FetchError("bad_url", str(exc)) from exc
            return await self._fetch(target, etag, last_modified, admit, stop)
        except FetchError as exc:
            _scrub(exc, paths=not hide_paths)
            raise

    async def _fetch(
        self,
        target: URL,
        etag: str | None,
        last_modified: str | None,
        admit: Admit | None,
        stop: asyncio.Event | None,
    ) -> FetchResult:
        assert self._session is not None
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots.hold(f"{target.raw_host}:{target.port}"):
            if stop is not None and stop.is_set():
                raise NotStarted()
            try:
                async with asyncio.timeout(self._config.timeout):
                    result = await self._follow(self._session, target, headers)
            except FetchError:
                raise
            except Exception as exc:
                raise _translate(exc, self._config.timeout) from exc
            if admit is not None and result.status != 304:
                await admit()  # the slot is kept until the parser takes the body
            return result

    async def _follow(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str]
    ) -> FetchResult:
        started = time.monotonic()
        for _ in range(self._config.max_redirects + 1):
            self._check_hop(url)
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status not in _REDIRECTS:
                    return await self._finish(resp, url, headers, started)
                url = _redirect_target(url, resp.headers.get("Location"))
        raise FetchError("too_many_redirects", f"more than {self._config.max_redirects}")

    def _check_hop(self, url: URL) -> None:
        """Scheme, host, and IP literals (aiohttp does not resolve those)."""
        if url.scheme not in _SCHEMES:
            raise FetchError("bad_scheme", f"{url.scheme or 'no'} scheme")
        host = url.raw_host
        if not host:
            raise FetchError("bad_url", "no host")
        looks_ip = ":" in host or host.replace(".", "").isdigit()  # aiohttp's test
        if looks_ip and not _admits(host, url.port or 0, self._allow):
            raise BlockedAddress(f"{host}:{url.port}")

    async def _finish(
        self, resp: aiohttp.ClientResponse, url: URL, sent: dict[str, str], started: float
    ) -> FetchResult:
        if resp.status == 304:
            body = b""
        elif 200 <= resp.status < 300:
            body = await _read_capped(resp, self._config.max_bytes)
        else:
            raise _status_error(resp)
        not_modified = resp.status == 304
        return FetchResult(
            status=resp.status,
            body=body,
            headers=_lowered(resp.headers),
            url=str(url),
            etag=resp.headers.get("ETag") or (sent.get("If-None-Match") if not_modified else None),
            last_modified=resp.headers.get("Last-Modified")
            or (sent.get("If-Modified-Since") if not_modified else None),
            elapsed=time.monotonic() - started,
        )


def _redirect_target(current: URL, location: str | None) -> URL:
    if not location:
        raise FetchError("bad_redirect", "redirect without Location")
    try:
        target = current.join(URL(location))
    except (ValueError, TypeError) as exc:
        raise FetchError("bad_redirect", f"bad Location {location[:200]!r}") from exc
    if target.scheme not in _SCHEMES:
        raise FetchError("bad_scheme", f"redirect to {target.scheme or 'no'} scheme")
    if current.scheme == "https" and target.scheme == "http":
        raise FetchError("insecure_redirect", f"https -> {target.with_query(None)}")
    return target


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The decompressed body, read in chunks; too_large past ``cap`` bytes."""
    declared = resp.content_length
    if declared is not None and declared > cap and "Content-Encoding" not in resp.headers:
        raise FetchError("too_large", f"Content-Length {declared} > {cap}")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > cap:
            resp.close()  # drop the connection rather than drain the rest
            raise FetchError("too_large", f"body over {cap} bytes")
    return bytes(body)


def _lowered(headers: CIMultiDictProxy[str]) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.items():
        key = key.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return MappingProxyType(out)


def _status_error(resp: aiohttp.ClientResponse) -> FetchError:
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


def _translate(exc: Exception, timeout: float) -> FetchError:
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


def _scrub(exc: FetchError, *, paths: bool) -> None:
    """Cut every URL in ``exc``'s detail to scheme, host (and path)."""
    detail = redact_urls(exc.detail, paths=paths)
    if detail != exc.detail:
        exc.detail = detail
        exc.args = (f"{exc.reason}: {detail}",)
