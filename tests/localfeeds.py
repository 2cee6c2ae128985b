"""A real local HTTP server standing in for the internet's feeds in tests.

Serves named routes on 127.0.0.1 (a port chosen by the OS), answers
conditional GETs the way a well-behaved feed server does (ETag from the body,
Last-Modified), and records every request it receives, so a test can assert
what newsmon sent and how often.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LAST_MODIFIED = "Fri, 12 Jul 2019 10:00:00 GMT"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class FeedServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    honour_validators: bool = True
    _routes: dict[str, Handler] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def feed(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        """Serve ``body`` at ``path`` with validators; returns its URL."""

        async def handler(request: web.Request) -> web.StreamResponse:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.honour_validators and (
                request.headers.get("If-None-Match") == etag
                or request.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=body,
                content_type=content_type,
                headers={"ETag": etag, "Last-Modified": LAST_MODIFIED},
            )

        return self.route(path, handler)

    def route(self, path: str, handler: Handler) -> str:
        self._routes[path] = handler
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.path, dict(request.headers))
        self.requests.append(seen)
        handler = self._routes.get(request.path)
        if handler is None:
            raise web.HTTPNotFound()
        response = await handler(request)
        seen.status = response.status
        return response

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await asyncio.wait_for(self._runner.cleanup(), 10)
