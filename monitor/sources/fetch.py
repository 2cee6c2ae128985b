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
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from monitor.addresses import parse_allowlist
from monitor.config import FetchConfig, Secret, reveal
from monitor.errors import BlockedAddress, FetchError
from monitor.sources.fetcherrors import scrub, status_error, translate
from monitor.sources.resolver import GuardedResolver, admits

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


def slot_key(url: str) -> str:
    """The host a fetch of ``url`` counts against (``fetch.per_host``): host and port."""
    try:
        return _slot_key(URL(url))
    except (ValueError, TypeError):
        return url


def _slot_key(url: URL) -> str:
    return f"{url.raw_host}:{url.port}"


@lru_cache(maxsize=65_536)
def _parsed(url: str) -> URL:
    return URL(url)


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

    @property
    def limits(self) -> tuple[int, int]:
        """(fetches per host, fetches in all) at once."""
        return self._config.per_host, self._config.concurrency

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

    async def __aexit__(self, *exc_info: object) -> None:
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
                target = _parsed(reveal(url))
            except (ValueError, TypeError) as exc:
                raise FetchError("bad_url", str(exc)) from exc
            return await self._fetch(target, etag, last_modified, admit, stop)
        except FetchError as exc:
            scrub(exc, paths=not hide_paths)
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
        async with self._slots.hold(_slot_key(target)):
            if stop is not None and stop.is_set():
                raise NotStarted()
            try:
                async with asyncio.timeout(self._config.timeout):
                    result = await self._follow(self._session, target, headers)
            except FetchError:
                raise
            except Exception as exc:
                raise translate(exc, self._config.timeout) from exc
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
        if looks_ip and not admits(host, url.port or 0, self._allow):
            raise BlockedAddress(f"{host}:{url.port}")

    async def _finish(
        self, resp: aiohttp.ClientResponse, url: URL, sent: dict[str, str], started: float
    ) -> FetchResult:
        if resp.status == 304:
            body = b""
        elif 200 <= resp.status < 300:
            body = await _read_capped(resp, self._config.max_bytes)
        else:
            raise status_error(resp)
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
