"""A full disk under a running daemon: it stays up, stalls, and loses nothing.

While no file of the daemon may grow (RLIMIT_FSIZE 0, as on a full disk), the
feed keeps gaining stories. The poller cannot record state, the alerts stage
cannot write stories or the outbox, the file sink cannot append: each waits and
retries instead of dropping work or dying. Once the disk has room again, every
story the feed carried is alerted, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
from pathlib import Path

from aiohttp import web
from feedserver import FeedServer
from support.config import write_config
from support.daemon import Daemon
from support.net import free_port
from test_observability import until_status


def word(n: int) -> str:
    """A made-up word per ``n`` (hash letters): stories that share nothing but S-400."""
    return hashlib.sha256(str(n).encode()).hexdigest()[:9].translate(LETTERS)


LETTERS = str.maketrans("0123456789", "ghijklmnop")


class GrowingFeed:
    """One new, distinct S-400 story per request."""

    def __init__(self) -> None:
        self.served = 0

    def title(self, n: int) -> str:
        return "S-400 " + " ".join(word(4 * n + k) for k in range(4))

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.served = min(self.served + 1, 40)
        items = "".join(
            f"<item><title>{self.title(n)}</title><link>https://wire.example/{n}</link>"
            f"<guid>w{n}</guid></item>"
            for n in range(1, self.served + 1)
        )
        body = f'<rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'
        return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml"})


def alerted(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["link"] for line in lines if line.endswith("}")]


async def test_full_disk_stalls_the_daemon_and_loses_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = GrowingFeed()
    url = feed_server.add("/wire.xml", feed)
    port = free_port()
    (tmp_path / "rules.yaml").write_text(
        'rules:\n  - {name: s400, keywords: ["S-400"], severity: high}\n', encoding="utf-8"
    )
    out = tmp_path / "alerts.jsonl"
    config = write_config(
        tmp_path, [url], rules="[rules.yaml]", http=f"{{listen: '127.0.0.1:{port}'}}",
        fetch="{allow_networks: ['127.0.0.1/32']}",
        schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, max_backoff: 1s}",
        delivery="{backoff: 0.5s, max_backoff: 1s}",
    )  # fmt: skip
    async with Daemon(config) as daemon:
        async with asyncio.timeout(60):
            while len(alerted(out)) < 2:
                await asyncio.sleep(0.2)
        soft, hard = resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            assert await until_status(port, "/readyz", 503) == "not ready: store\n"
            during = feed.served
            async with asyncio.timeout(60):
                while feed.served < during + 4:  # polls go on: new stories arrive
                    await asyncio.sleep(0.2)
            assert daemon.running
        finally:
            resource.prlimit(daemon.pid, resource.RLIMIT_FSIZE, (soft, hard))
        await until_status(port, "/readyz", 200)
        async with asyncio.timeout(60):
            while len(set(alerted(out))) < feed.served:
                await asyncio.sleep(0.2)
    # SIGTERM drained what was in flight: every story the feed served, once
    links = alerted(out)
    assert set(links) == {f"https://wire.example/{n}" for n in range(1, feed.served + 1)}
    assert len(links) == len(set(links))
