"""A real, hostile HTTP server for tests: aiohttp.web on 127.0.0.1, port 0.

    async with FeedServer() as server:
        server.add("/feed", feed(b"<rss/>", etag='"v1"'))
        await fetcher.fetch(server.url("/feed"))
        server.requests        # every request received, as Seen(method, path, headers, ...)
        server.max_in_flight   # most requests handled at once

Routes can be added while it runs. The handler factories below serve feeds with
validators, statuses, redirects, and hostile answers: a hang, a drip, an endless
body, a gzip bomb, a broken gzip body.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KiB = 1024
MiB = 1024 * KiB


@dataclass
class Seen:
    method: str
    path: str
    headers: Mapping[str, str]
    status: int = 0  # what the server answered (0 while in flight)
    query: str = ""  # the query string, as sent


class FeedServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._routes: dict[str, Handler] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # handler_cancellation: a handler stops when its client goes away
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        self.port = 0

    async def __aenter__(self) -> FeedServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()

    def add(self, path: str, handler: Handler) -> str:
        """Serve ``path`` with ``handler``; returns its URL."""
        self._routes[path] = handler
        return self.url(path)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path, dict(request.headers), query=request.query_string)
        self.requests.append(seen)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            handler = self._routes.get(request.path)
            if handler is None:
                return web.Response(status=404, text="no such route")
            response = await handler(request)
            seen.status = response.status
            return response
        finally:
            self.in_flight -= 1

    def hits(self, path: str) -> list[Seen]:
        """The requests received for ``path``, in order."""
        return [seen for seen in self.requests if seen.path == path]


def feed(
    body: bytes,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    delay: float = 0.0,
) -> Handler:
    """A feed with validators; answers 304 when the request's validators match."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        headers = {"Content-Type": "application/rss+xml"}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if (inm and inm == etag) or (not inm and ims and ims == last_modified):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)

    return handler


def status(code: int, headers: Mapping[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, headers=dict(headers or {}), text=f"status {code}")

    return handler


def redirect(location: str, code: int = 302, *, delay: float = 0.0) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return web.Response(status=code, headers={"Location": location})

    return handler


async def hang(request: web.Request) -> web.StreamResponse:
    """Never answers (until the client goes away)."""
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def drip(request: web.Request) -> web.StreamResponse:
    """Headers at once, then one byte a second, forever."""
    resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    await resp.prepare(request)
    while True:
        await resp.write(b"x")
        await asyncio.sleep(1.0)


async def endless(request: web.Request) -> web.StreamResponse:
    """A chunked body that never ends."""
    resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    await resp.write(b"<rss>")
    chunk = b"<item/>" * (64 * KiB // 7)
    while True:
        await resp.write(chunk)


def gzip_bomb(gib: int = 1) -> Handler:
    """``gib`` GiB of zeros, gzipped to about 1 MB per GiB, sent as one body.

    Built from one 1 MiB deflate segment repeated: after a full flush the
    compressor forgets its history, so every later segment is byte-identical.
    Costs ~1 MB of memory and a few ms, not the 1 GiB it inflates to.
    """
    mib = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()
    crc = 0
    for _ in range(gib * 1024):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + ((gib << 30) & 0xFFFFFFFF).to_bytes(4, "little")
    body = b"".join([header, first, again * (gib * 1024 - 1), end, trailer])

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
        return web.Response(body=body, headers=headers)

    return handler


async def bad_gzip(request: web.Request) -> web.StreamResponse:
    """Says gzip, sends something else."""
    headers = {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
    return web.Response(body=b"this is not gzip at all" * 100, headers=headers)


def rss(body: bytes) -> Handler:
    """Serve ``body`` as-is, with no validators."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": "application/rss+xml"})

    return handler


def counting_feed(title: str) -> Handler:
    """An RSS feed that gains one item per request: "<title> 1", "<title> 2", ..."""
    count = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal count
        count += 1
        items = "".join(
            f"<item><title>{title} {n}</title><link>https://x.example/{n}</link>"
            f"<guid>{n}</guid></item>"
            for n in range(1, count + 1)
        )
        body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
        return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml"})

    return handler
