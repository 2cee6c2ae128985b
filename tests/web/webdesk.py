"""A real newsmon daemon for the web tests, fed by the demo feeds.

    async with desk_daemon(tmp_path, feed_server) as desk:
        desk.base                     # http://127.0.0.1:PORT, the UI and API
        desk.wire.append(item(...))   # the next poll of /wire.xml carries it
        desk.hook_ok = True           # the webhook receiver accepts from now on
        await desk.api("/api/stories")

Feeds (every second): the demo feeds of examples/feeds, ``/wire.xml`` (a wire the test
grows), ``/gone.xml`` (404: a failing feed) and any ``extra`` ones. Receivers:
``desk-file`` (JSONL) takes every story, but F-35 stories go to ``soar``, a webhook
that answers 400 (dead-lettered at once) until ``hook_ok``. ``updates: all`` with no
interval: every member a story gains is an update for its receiver.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from feedserver import FeedServer, Handler, rss, status
from support.config import write_config
from support.daemon import Daemon, until
from support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "feeds"
TOKEN = "test-token-0123456789abcdef"  # long enough for http.auth_token


def item(guid: str, title: str, link: str, summary: str = "") -> str:
    return (f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(guid)}</guid>"
            f"<description>{escape(summary)}</description></item>")  # fmt: skip


@dataclass
class Desk:
    daemon: Daemon
    base: str
    tmp: Path
    wire: list[str] = field(default_factory=list)
    hook_ok: bool = False
    hook_bodies: list[bytes] = field(default_factory=list)
    token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def api(self, path: str) -> Any:
        async with (
            aiohttp.ClientSession(headers=self.headers()) as session,
            session.get(self.base + path) as resp,
        ):
            assert resp.status == 200, (path, resp.status, await resp.text())
            return await resp.json()

    async def story_titled(self, words: str, timeout: float = 60) -> dict[str, Any]:
        """The summary of the first story whose title has ``words`` (waits for it)."""
        found: list[dict[str, Any]] = []

        async def look() -> bool:
            data = await self.api("/api/stories?limit=1000")
            found[:] = [s for s in data["stories"] if words in s["title"]]
            return bool(found)

        await until_async(look, f"a story titled {words!r}", timeout)
        return found[0]


async def until_async(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    """``until`` for an async condition."""
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {what} after {timeout:g}s") from None


def _wire_feed(desk: Desk) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        items = "".join(reversed(desk.wire))
        body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Copy Desk</title>{items}</channel></rss>")  # fmt: skip
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    return handler


def _hook(desk: Desk) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        desk.hook_bodies.append(await request.read())
        if desk.hook_ok:
            return web.Response(text="ok")
        return web.Response(status=400, text="bad request: no such channel")

    return handler


@asynccontextmanager
async def desk_daemon(
    tmp: Path, server: FeedServer, *, extra: Mapping[str, bytes] | None = None,
    host: str = "127.0.0.1", token: str | None = None,
) -> AsyncIterator[Desk]:  # fmt: skip
    """The daemon running (its first stories made), stopped on the way out; its HTTP
    server on ``host`` (reached at 127.0.0.1), with ``token`` as http.auth_token."""
    port = free_port()
    daemon = Daemon(tmp / "newsmon.yaml", env=_env(token))
    desk = Desk(daemon, f"http://127.0.0.1:{port}", tmp, token=token)
    feeds = {p.stem: server.add(f"/feeds/{p.name}", rss(p.read_bytes()))
             for p in sorted(DEMO.glob("*.xml"))}  # fmt: skip
    feeds["wire"] = server.add("/wire.xml", _wire_feed(desk))
    feeds["gone"] = server.add("/gone.xml", status(404))
    for name, body in (extra or {}).items():
        feeds[name] = server.add(f"/{name}.xml", rss(body))
    hook = server.add("/hook", _hook(desk))
    auth = ", auth_token: '${NEWSMON_UI_TOKEN}'" if token else ""
    write_config(
        tmp, feeds, http=f"{{listen: '{host}:{port}'{auth}}}",
        receivers=[f"{{name: desk-file, kind: file, path: {tmp / 'alerts.jsonl'}}}",
                   f"{{name: soar, kind: webhook, url: '{hook}'}}"],
        schedule="{interval: 1s, min_interval: 1s, max_interval: 2s, max_backoff: 2s}",
        route="{receiver: desk-file, updates: all, update_interval: 0,"
              " routes: [{matchers: ['rule=f35'], receiver: soar}]}",
    )  # fmt: skip
    async with daemon:
        await until_async(lambda: _ready(desk), "the daemon's first stories", 90)
        yield desk


def _env(token: str | None) -> dict[str, str] | None:
    if token is None:
        return None
    return {**os.environ, "NEWSMON_UI_TOKEN": token}


async def _ready(desk: Desk) -> bool:
    try:
        async with (
            aiohttp.ClientSession(headers=desk.headers()) as session,
            session.get(desk.base + "/api/stories") as resp,
        ):
            return resp.status == 200 and bool((await resp.json())["stories"])
    except aiohttp.ClientError:
        return False


def alerts_written(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


__all__ = ["TOKEN", "Desk", "alerts_written", "desk_daemon", "item", "until", "until_async"]
