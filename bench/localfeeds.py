"""A local feed server in a process of its own, for the polling and burst benchmarks.

The server runs in a child process so that the CPU the benchmark reads from the
process it runs in is the daemon's alone. Feeds are ``/f/<n>``:

* ``unchanged`` feeds answer 304 to their validator (``"v1"``), else a small feed;
* ``changed`` feeds have a new body on every request: a window of ``items`` items,
  newest first, that moves by ``fresh`` new items each time (the items of a feed
  that was fetched before are mostly seen ones, as on the internet);
* ``burst`` feeds: every request brings ``items`` items never served before (the
  first bodies of ``ready`` feeds are made before the server starts: making them is
  the outlets' work, not the daemon's, and would share its CPU).

An item's words are one template, numbers apart (``Feed 3 story 7: S-400 deliveries
...``), unless the plan asks for ``varied`` texts: then each item tells a story of its
own in pseudo-English words (and a lead), or, :data:`SYNDICATED` of them, carries one
of :data:`WIRE_STORIES` wire stories as many outlets do (the wire's title under a
prefix or an outlet suffix, its lead). ``matching`` is the share of stories that name
the S-400 and an entity or two of the repository's rules; the others name none.

The server records when each feed was requested (:meth:`LocalFeeds.requests`), from
which a benchmark reads how late polls came (its schedule is the feed's interval).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType


@dataclass(frozen=True, slots=True)
class Plan:
    changed_every: int = 10  # every n-th feed changes on each request (10 %)
    items: int = 50  # items per changed (or burst) body
    fresh: int = 3  # new items per request of a changed feed
    burst: bool = False  # every feed brings `items` new items per request
    varied: bool = False  # stories of their own (and wire copies), not one template
    matching: float = 1.0  # varied: the share of stories naming the rules' entities
    ready: int = 0  # burst: feeds whose first body is made before the server starts


SYNDICATED = 0.3  # of varied items: a wire story's copy
WIRE_STORIES = 2_000
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_ENTITIES = ["Turkey", "Russia", "F-35", "sanctions", "Erdogan", "NATO", "Patriot missile"]
_PREFIXES = ["UPDATE 1-", "EXCLUSIVE-", "", "", ""]
_SUFFIXES = [" - Reuters", " | AP", " - Al Jazeera", "", ""]
_VOCABULARY: list[str] = []


def _words(rng: random.Random, k: int) -> list[str]:
    if not _VOCABULARY:
        seeded = random.Random(11)
        _VOCABULARY.extend("".join(seeded.choice(_SYLLABLES) for _ in range(seeded.randint(2, 4)))
                           for _ in range(20_000))  # fmt: skip
    return [rng.choice(_VOCABULARY) for _ in range(k)]


def _story(seed: int, matching: float) -> tuple[str, str]:
    """One story's title and lead, the same for every outlet that carries it."""
    rng = random.Random(seed)
    words = _words(rng, rng.randint(6, 10))
    if rng.random() < matching:
        for entity in ["S-400", *rng.sample(_ENTITIES, rng.randint(0, 2))]:
            words.insert(rng.randrange(len(words) + 1), entity)
    title = " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])
    return title, " ".join(_words(rng, 40)) + "."


def _varied(plan: Plan, feed: int, n: int) -> tuple[str, str]:
    rng = random.Random(feed * 1_000_003 + n)
    if rng.random() >= SYNDICATED:
        return _story(WIRE_STORIES + feed * 1_000_003 + n, plan.matching)  # none a wire story
    title, lead = _story(rng.randrange(WIRE_STORIES), plan.matching)
    return f"{rng.choice(_PREFIXES)}{title}{rng.choice(_SUFFIXES)}", lead


def _item(feed: int, n: int, plan: Plan | None = None) -> bytes:
    if plan is not None and plan.varied:
        title, lead = _varied(plan, feed, n)
        return (
            f"<item><title>{title}</title>"
            f"<link>https://news{feed % 97}.example/{feed}/story/{n}</link>"
            f"<guid>urn:feed:{feed}:{n}</guid>"
            f"<pubDate>Fri, 12 Jul 2019 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
            f" +0300</pubDate><description>{lead}</description></item>"
        ).encode()
    return (
        f"<item><title>Feed {feed} story {n}: S-400 deliveries and F-35 exit</title>"
        f"<link>https://news{feed % 97}.example/{feed}/story/{n}?utm_source=rss</link>"
        f"<guid>urn:feed:{feed}:{n}</guid>"
        f"<pubDate>Fri, 12 Jul 2019 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}"
        " +0300</pubDate>"
        f"<description>&lt;p&gt;Ankara took delivery of the &lt;b&gt;S-400&lt;/b&gt; system"
        f" ({n}); Washington weighs sanctions. {'Background paragraph. ' * 12}&lt;/p&gt;"
        "</description></item>"
    ).encode()


def rss(feed: int, numbers: range, plan: Plan | None = None) -> bytes:
    items = b"".join(_item(feed, n, plan) for n in reversed(numbers))
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        b"<title>Bench feed</title><link>https://news.example/</link>" + items + b"</channel></rss>"
    )


def _serve(plan: Plan, conn: Connection) -> None:
    from aiohttp import web

    served: dict[int, int] = {}
    times: dict[int, list[float]] = {}
    small = rss(0, range(1))
    made = {n: rss(n, range(plan.items), plan) for n in range(plan.ready)}  # the feeds' work

    async def handle(request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        count = served[n] = served.get(n, 0) + 1
        times.setdefault(n, []).append(time.monotonic())
        if plan.burst:
            start = (count - 1) * plan.items
            body = made.pop(n) if count == 1 and n in made else None
            body = body or rss(n, range(start, start + plan.items), plan)
            return web.Response(body=body, headers={"ETag": f'"b{count}"'})
        if n % plan.changed_every == 0:
            start = count * plan.fresh
            body = rss(n, range(start, start + plan.items))
            return web.Response(body=body, headers={"ETag": f'"c{count}"'})
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=small, headers={"ETag": '"v1"'})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{n}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        conn.send(runner.addresses[0][1])
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, conn.poll, 0.5):
            pass
        conn.recv()
        conn.send(times)
        await runner.cleanup()

    asyncio.run(main())


class LocalFeeds:
    """``with LocalFeeds(plan) as feeds: feeds.url(n)``; the server stops on exit."""

    def __init__(self, plan: Plan | None = None) -> None:
        self.plan = plan or Plan()
        self.port = 0
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self.plan, child), daemon=True
        )

    def __enter__(self) -> LocalFeeds:
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the local feed server did not start")
        self.port = self._conn.recv()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(5)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/f/{n}"

    def requests(self) -> dict[int, list[float]]:
        """Stop recording; per feed, when it was requested (``time.monotonic()``)."""
        self._conn.send("requests")
        if not self._conn.poll(60):
            raise RuntimeError("the local feed server did not answer")
        times: dict[int, list[float]] = self._conn.recv()
        return times
