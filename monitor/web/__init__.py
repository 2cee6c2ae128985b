"""The desk's window: a web UI and a REST API on the daemon's HTTP server.

Server-rendered pages (Jinja2, autoescaped; one small script refreshes the Stories
list live) and a JSON API described by OpenAPI at ``/api/openapi.json``; the pages
show what the API answers. Modules: ``desk`` (what they read: the daemon's store,
story book, outbox and live rules), ``stories``, ``feeds``, ``alerts``, ``rules``,
``silences`` (the data and actions), ``api`` and ``pages`` (the routes),
``openapi``, ``render`` (templates), ``security`` (token, sessions, CSRF, headers).

:func:`mounter` gives :class:`~monitor.http.HttpServer` what to add to its app.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from monitor.config import HttpConfig
from monitor.web import api, pages
from monitor.web.desk import Desk
from monitor.web.security import Guard

__all__ = ["Desk", "mounter"]
STATIC = Path(__file__).parent / "static"


def mounter(desk: Desk, http: HttpConfig) -> Callable[[web.Application], None]:
    """What mounts the UI and API on an aiohttp app (before it starts)."""
    token = http.auth_token.reveal() if http.auth_token is not None else None
    guard = Guard(token)

    def mount(app: web.Application) -> None:
        app[api.DESK] = desk
        app[pages.GUARD] = guard
        app.middlewares.extend(guard.middlewares)
        api.add_routes(app.router)
        pages.add_routes(app.router)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)

    return mount
