"""The web UI beside the polling benchmark's daemon: its HTTP server with the UI
mounted, on a store holding a desk's window of stories that keep changing, and one
browser (``bench/browse.py``, a process of its own) open on Stories, live refresh on.

What the daemon's process spends on it (the pages and API answers, the JSON) shows in
its CPU per poll; the browser's own CPU is not the daemon's.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.alerts.outbox import Outbox
from monitor.config import HttpConfig
from monitor.dedup.stories import StoryBook
from monitor.http import HttpServer
from monitor.model import Evidence, Item, Match, RuleHit
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules
from monitor.store import Store
from monitor.web import Desk, mounter

ROOT = Path(__file__).resolve().parents[1]
STORIES = 300  # in the window
CHANGE_EVERY = 5.0  # seconds between two new members (a story joined by a copy)
WORDS = ["ministry", "talks", "delivery", "battery", "deal", "vote", "summit", "exports",
         "radar", "pilots", "contract", "budget", "border", "strike", "drill", "parts"]  # fmt: skip


def available() -> bool:
    return os.access("/usr/bin/chromium", os.X_OK)


def _item(rng: random.Random, n: int, copy: int = 0) -> Item:
    words = " ".join(rng.sample(WORDS, 6))
    return Item(id=f"s{n}-{copy}", feed_url=f"https://news{copy}.example/rss", feed=f"f{copy}",
                source=f"Outlet {copy}", title=f"Topic{n} {words}",
                link=f"https://wire.example/{n}")  # fmt: skip


def _match(item: Item, n: int) -> Match:
    term = f"Topic{n}"
    evidence = (Evidence(term, "title", term, 0, len(term)),)
    rule, severity = ("s400", "f35", "sanctions")[n % 3], ("high", "medium", "low")[n % 3]
    hit = RuleHit(rule, severity, (("desk", "defence"),), evidence)
    return Match(item, (hit,))


@asynccontextmanager
async def browsed(store: Store) -> AsyncIterator[list[str]]:
    """The UI up on ``store`` with a browser open on it; yields what the browser says
    when it is told to stop (how many refreshes it made), once it has."""
    rng = random.Random(7)
    book = StoryBook(store)
    for n in range(STORIES):
        for copy in range(1 + n % 3):
            book.observe(_match(_item(rng, n, copy), n), time.time())
    engine = Engine(load_rules([str(ROOT / "rules" / "defense.yaml")]))
    desk = Desk(store, book, Outbox(store), lambda: engine, receivers=("desk",))
    mount = mounter(desk, HttpConfig())
    said: list[str] = []
    async with HttpServer("127.0.0.1", 0, CollectorRegistry(), {}, mount) as server:
        changing = asyncio.create_task(_change(book, rng))
        browser = subprocess.Popen(
            [sys.executable, "-m", "bench.browse", f"http://127.0.0.1:{server.port}/stories"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert browser.stdout is not None and browser.stdin is not None
            line = await asyncio.to_thread(browser.stdout.readline)
            if line.strip() != "open":
                raise RuntimeError(f"the browser did not open the page: {line!r}")
            yield said
            browser.stdin.write("stop\n")
            browser.stdin.flush()
            said.append((await asyncio.to_thread(browser.stdout.readline)).strip())
        finally:
            changing.cancel()
            if browser.poll() is None:
                await asyncio.to_thread(browser.wait, 30)


async def _change(book: StoryBook, rng: random.Random) -> None:
    """A copy joins a story every few seconds: every live refresh finds the list changed."""
    copy = 10
    while True:
        await asyncio.sleep(CHANGE_EVERY)
        n = rng.randrange(STORIES)
        copy += 1
        book.observe(_match(_item(rng, n, copy), n), time.time())
