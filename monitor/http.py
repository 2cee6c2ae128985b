"""The daemon's HTTP endpoints: /metrics, /healthz, /readyz (aiohttp), and what
``mount`` adds (the web UI and its API: ``monitor.web``, handed in by ``app.py``).

Bound to 127.0.0.1 by default. ``/readyz`` answers 200 only when the config
is loaded, the store takes writes and the bus is reachable, else 503 with the
failing checks named, each with what it waits on where it says (Kafka's roles:
``not ready: stories (rebuilding 3,200 of 5,000 records)``). The three answer
whoever reaches the port, token or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], Awaitable[bool]]
Explain = Callable[[], str | None]  # what a failing check waits on (None: nothing to add)
Mount = Callable[[web.Application], None]


class HttpServer:
    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, checks: Mapping[str, Check],
        mount: Mount | None = None, explain: Mapping[str, Explain] | None = None,
    ) -> None:  # fmt: skip
        self.host = host
        self.port = port
        self._registry = registry
        self._checks = dict(checks)
        self._explain = dict(explain or {})
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if mount is not None:
            mount(app)
        self._runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> HttpServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the port the OS chose, if 0
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        failing = [self._named(name) for name, check in self._checks.items()
                   if not await _safe(check)]  # fmt: skip
        if failing:
            return web.Response(status=503, text="not ready: " + ", ".join(failing) + "\n")
        return web.Response(text="ready\n")

    def _named(self, name: str) -> str:
        """``name``, with what it waits on when its role says: "stories (rebuilding ...)"."""
        try:
            what = self._explain[name]() if name in self._explain else None
        except Exception:  # a bug in the explanation must not break readiness
            what = None
        return f"{name} ({what})" if what else name


async def _safe(check: Check) -> bool:
    try:
        return await check()
    except Exception:
        return False
