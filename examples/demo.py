"""`make demo`: newsmon against bundled sample feeds, offline.

Starts a local feed server on 127.0.0.1 serving the feeds in examples/feeds/
plus a "live" feed that gains a new story every few seconds, writes a config
that points newsmon at it (the loopback address explicitly allowed), and runs
the daemon until Ctrl-C. Alerts print on the console and go to
demo-state/alerts.jsonl.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIVE_EVERY = 8.0  # seconds between new stories on the live feed
LIVE_STORIES = [
    "Second S-400 battery arrives in Turkey, ministry says",
    "Lawmakers ask for CAATSA sanctions vote before recess",
    "Lockheed says F-35 supply chain can replace Turkish parts by 2020",
    "Local council approves new cycling lanes",
    "Erdogan: Turkey may look elsewhere for fighter jets",
    "Greece and Cyprus discuss Patriot air defense cover",
]


def live_feed(started: float) -> str:
    shown = min(len(LIVE_STORIES), 1 + int((time.monotonic() - started) / LIVE_EVERY))
    items = []
    for n in range(shown):
        date = format_datetime(datetime.now(UTC))
        items.append(
            f"<item><title>{escape(LIVE_STORIES[n])}</title>"
            f"<link>https://live.example/story/{n}</link><guid>live-{n}</guid>"
            f"<pubDate>{date}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Live Desk (demo)</title><link>https://live.example/</link>"
        f"<ttl>0</ttl>{''.join(reversed(items))}</channel></rss>"
    )


async def serve_feeds() -> tuple[web.AppRunner, int]:
    started = time.monotonic()

    async def live(request: web.Request) -> web.Response:
        return web.Response(text=live_feed(started), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/live.xml", live)
    app.router.add_static("/feeds/", HERE / "feeds")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def write_config(port: int, state: Path) -> Path:
    feeds = [p.name for p in sorted((HERE / "feeds").glob("*.xml"))]
    lines = [
        "# written by examples/demo.py",
        "feeds:",
        *(f"  - {{url: http://127.0.0.1:{port}/feeds/{name}, name: {name}}}" for name in feeds),
        f"  - {{url: http://127.0.0.1:{port}/live.xml, name: live, interval: 5s}}",
        f"rules: [{str(ROOT / 'rules' / '*.yaml')!r}]",
        f"state: {{path: {str(state / 'newsmon.db')!r}}}",
        f"fetch: {{allow_networks: ['127.0.0.1:{port}']}}",
        "schedule: {interval: 30s, min_interval: 5s, max_interval: 2m}",
        "http: {listen: '127.0.0.1:0'}",
        "receivers:",
        "  - {name: console, kind: console}",
        f"  - {{name: desk-file, kind: file, path: {str(state / 'alerts.jsonl')!r}}}",
    ]
    path = state / "demo.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def main() -> int:
    from monitor.alerts.sinks import schemas
    from monitor.app import App
    from monitor.cli import setup_logging
    from monitor.config import load_config

    state = ROOT / "demo-state"
    state.mkdir(exist_ok=True)
    (state / "newsmon.db").unlink(missing_ok=True)  # a demo starts fresh every time
    runner, port = await serve_feeds()
    config = write_config(port, state)
    settings = load_config(config, receivers=schemas())
    setup_logging("text", "warning")
    print(f"demo feeds on http://127.0.0.1:{port}/ ; alerts below and in {state}/alerts.jsonl")
    print("a new story reaches the live feed every few seconds; Ctrl-C stops\n")
    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.run(stop)
    finally:
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))
