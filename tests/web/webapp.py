"""The web UI and API in-process, on a store holding the stories a test gives, as
they are (no normalising: what a bug upstream or an old state file could hold).

    async with web_app(tmp_path, items, token=TOKEN) as base:   # http://127.0.0.1:PORT
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.alerts.outbox import Outbox
from monitor.config import HttpConfig, Secret
from monitor.dedup.stories import StoryBook
from monitor.http import HttpServer
from monitor.model import Evidence, Item, Match, RuleHit
from monitor.rules.engine import Engine
from monitor.store import Store
from monitor.web import Desk, mounter


def item(n: int, title: str, link: str | None = None) -> Item:
    return Item(id=f"i{n}", feed_url="https://wire.example/rss", feed="wire", source="Wire",
                title=title, link=link)  # fmt: skip


@asynccontextmanager
async def web_app(
    tmp: Path, items: Sequence[Item] = (), *, token: str | None = None
) -> AsyncIterator[str]:
    with Store(tmp / "state.db") as store:
        book = StoryBook(store)
        for n, it in enumerate(items):  # each its own rule and term: its own story
            term = it.title.split()[0]
            evidence = (Evidence(term, "title", term, 0, len(term)),)
            book.observe(Match(it, (RuleHit(f"rule{n}", "high", (), evidence),)), time.time())
        engine = Engine([])
        desk = Desk(store, book, Outbox(store), lambda: engine, receivers=("desk",))
        http = HttpConfig(listen="127.0.0.1:0", auth_token=Secret(token) if token else None)
        async with HttpServer("127.0.0.1", 0, CollectorRegistry(), {}, mounter(desk, http)) as s:
            yield f"http://127.0.0.1:{s.port}"
