"""The Poller against a real feed server, fetcher, worker pool, store and bus:
nothing one feed's poll raises stops it, the other feeds or the daemon; a stop
skips polls not started; a feed URL's secret is fetched but never its name."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from feedserver import FeedServer, counting_feed, status
from prometheus_client import CollectorRegistry

from monitor.bus import ITEMS
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig, Secret
from monitor.metrics import Metrics
from monitor.model import Item
from monitor.sources.fetch import Fetcher
from monitor.sources.parse import ParsedFeed
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import FeedState, Store

FAST = ScheduleConfig(interval=0.2, min_interval=0.2, max_interval=1.0, jitter=0.0, max_backoff=1.0)
WAIT = 30.0  # seconds any condition below may take, at most


@dataclass
class Rig:
    server: FeedServer
    fetcher: Fetcher
    parser: ParsePool
    bus: MemoryBus
    store: Store
    metrics: Metrics

    def poller(self, feeds: list[FeedConfig], **kwargs: object) -> Poller:
        return Poller(feeds, fetcher=self.fetcher, parser=self.parser, store=self.store,
                      bus=self.bus, metrics=self.metrics, schedule=FAST,
                      **kwargs)  # type: ignore[arg-type]  # fmt: skip


class BuggyStore(Store):
    """A store with a bug (not a StoreError) saving the state of some feeds after
    a successful poll."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.buggy: set[str] = set()

    def stage_feed_state(self, state: FeedState) -> None:
        if state.url in self.buggy and state.last_reason == "ok":
            raise RuntimeError(f"bug saving {state.url}")
        super().stage_feed_state(state)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FeedServer() as server:
        config = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",), timeout=5,
                             concurrency=1)  # fmt: skip
        async with Fetcher(config) as fetcher, ParsePool(workers=1) as parser, MemoryBus() as bus:
            with BuggyStore(tmp_path / "state.db") as store:
                yield Rig(server, fetcher, parser, bus, store, Metrics(CollectorRegistry()))


async def until(condition: Callable[[], object], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"no {what} within {WAIT:g}s") from None


async def test_a_bug_stops_neither_its_feed_nor_the_others(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    good = FeedConfig(rig.server.add("/good", counting_feed("good")), "good")
    buggy = FeedConfig(rig.server.add("/buggy", counting_feed("buggy")), "buggy")
    rig.store.buggy = {buggy.url}
    stop = asyncio.Event()
    caplog.set_level(logging.ERROR, "monitor.sources.poller")
    run = asyncio.create_task(rig.poller([good, buggy]).run(stop))
    await until(lambda: len(rig.server.hits("/buggy")) >= 3 or run.done(), "3 polls")
    await until(lambda: len(rig.server.hits("/good")) >= 3 or run.done(), "3 polls")
    assert not run.done(), run
    stop.set()
    await asyncio.wait_for(run, WAIT)
    crashes = [r for r in caplog.records if r.getMessage().startswith("poll_crashed")]
    assert len(crashes) == 1, "logged once per distinct error, with its traceback"
    assert "feed=buggy" in crashes[0].getMessage() and crashes[0].exc_info is not None
    errors = rig.metrics.registry.get_sample_value(
        "newsmon_feed_fetches_total", {"outcome": "error"}
    )
    assert errors is not None and errors >= 3
    assert rig.store.feed_errors(buggy.url)[0][1] == "error"


class CancellingPool(ParsePool):
    """A pool whose first job ends in a CancelledError not aimed at the caller
    (as a job cancelled by a pool's shutdown would)."""

    cancelled = False

    async def parse(self, body: bytes, headers: object, feed: FeedConfig, *,
                    seen: datetime, known: bytes = b"") -> ParsedFeed:  # type: ignore[override]  # fmt: skip
        if not self.cancelled:
            self.cancelled = True
            raise asyncio.CancelledError()
        return await super().parse(body, headers, feed, seen=seen, known=known)  # type: ignore[arg-type]


async def test_a_stray_cancelled_error_is_the_feeds_parse_crash(rig: Rig) -> None:
    feed = FeedConfig(rig.server.add("/feed", counting_feed("story")), "feed")
    async with CancellingPool(workers=1) as parser:
        rig.parser = parser
        poller = rig.poller([feed])
        await poller.poll(feed)  # no CancelledError escapes
        assert rig.store.feed_state(feed.url).last_reason == "parse_crash"
        stop = asyncio.Event()
        run = asyncio.create_task(poller.run(stop))
        await until(lambda: rig.store.feed_state(feed.url).last_reason == "ok", "recovery")
        stop.set()
        await asyncio.wait_for(run, WAIT)


async def test_errors_piled_up_across_restarts_back_off_without_overflow(rig: Rig) -> None:
    feed = FeedConfig(rig.server.add("/down", status(500)), "down")
    rig.store.save_feed_state(FeedState(url=feed.url, consecutive_errors=5000))
    delay = await rig.poller([feed]).poll(feed)
    assert delay == FAST.max_backoff
    assert rig.store.feed_state(feed.url).consecutive_errors == 5001


async def test_retry_after_zero_is_not_a_tight_loop(rig: Rig) -> None:
    feed = FeedConfig(rig.server.add("/busy", status(429, {"Retry-After": "0"})), "busy")
    assert await rig.poller([feed]).poll(feed) == FAST.min_interval


@pytest.mark.parametrize(("took", "next_in"), [(5.0, 55.0), (50.0, 30.0)])
async def test_a_polls_own_time_does_not_push_its_feed_schedule_back(
    rig: Rig, took: float, next_in: float
) -> None:
    """The next poll is due an interval after this one started (the time it spent
    fetching, waiting for a parse worker, parsing is not added), but at least half
    an interval after it ended."""
    now = [1000.0]
    serve = counting_feed("S-400 story")

    async def slow(request: web.Request) -> web.StreamResponse:
        now[0] += took  # the poll takes ``took`` seconds of the poller's clock
        return await serve(request)

    feed = FeedConfig(rig.server.add("/slow", slow), "slow", interval=60.0)
    delay = await rig.poller([feed], clock=lambda: now[0]).poll(feed)
    state = rig.store.feed_state(feed.url)
    assert state.last_reason == "ok" and state.last_poll == 1000.0
    assert delay == next_in
    assert state.next_poll == 1000.0 + took + next_in


async def test_run_once_skips_polls_not_started_when_stopped(rig: Rig) -> None:
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(body=b'<rss version="2.0"><channel><title>T</title></channel></rss>')

    feeds = [FeedConfig(rig.server.add(f"/f{n}", held), f"f{n}") for n in range(4)]
    stop = asyncio.Event()
    once = asyncio.create_task(rig.poller(feeds).run_once(stop))  # one fetch slot
    await until(lambda: rig.server.requests, "the first request")
    stop.set()
    release.set()
    await asyncio.wait_for(once, WAIT)
    assert len(rig.server.requests) == 1  # the poll in flight finished, no other began
    polled = [f for f in feeds if rig.store.feed_state(f.url).last_poll is not None]
    assert len(polled) == 1 and rig.store.feed_state(polled[0].url).last_reason == "ok"


async def test_a_feed_url_secret_is_fetched_but_never_named(rig: Rig) -> None:
    rig.server.add("/feed.xml", counting_feed("S-400 story"))
    real = rig.server.url("/feed.xml") + "?key=SUPERSECRET"
    shown = rig.server.url("/feed.xml") + "?key=${FEED_KEY}"
    feed = FeedConfig(shown, shown, secret_url=Secret(real))
    await rig.poller([feed]).poll(feed)
    (request,) = rig.server.requests
    assert (request.path, request.query) == ("/feed.xml", "key=SUPERSECRET")
    assert rig.store.feed_state(shown).last_reason == "ok"  # the state is the identity's
    assert rig.store.feed_state(real).last_poll is None
    messages = rig.bus.consume(ITEMS, "test")
    item = (await asyncio.wait_for(anext(messages), WAIT)).value
    assert isinstance(item, Item)
    assert item.feed_url == shown and "SUPERSECRET" not in repr(item)


class CountingPool(ParsePool):
    """Counts the bodies admitted at once, and whether each parsed body was admitted."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.admitted = self.most = 0
        self.unadmitted_parses = 0

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        taken = False
        async with super().admission() as admit:

            async def counted() -> None:
                nonlocal taken
                await admit()
                if not taken:
                    taken = True
                    self.admitted += 1
                    self.most = max(self.most, self.admitted)

            try:
                yield counted
            finally:
                self.admitted -= taken

    async def parse(self, body: bytes, headers: object, feed: FeedConfig, *,
                    seen: datetime, known: bytes = b"") -> ParsedFeed:  # type: ignore[override]  # fmt: skip
        self.unadmitted_parses += not self.admitted
        await asyncio.sleep(0.05)  # a parser that is behind the fetcher
        return await super().parse(body, headers, feed, seen=seen, known=known)  # type: ignore[arg-type]


async def test_bodies_wait_for_the_parser_in_bounded_number(rig: Rig) -> None:
    feeds = [
        FeedConfig(rig.server.add(f"/f{n}", counting_feed(f"s{n}")), f"f{n}") for n in range(12)
    ]
    config = FetchConfig(allow_networks=(f"127.0.0.1:{rig.server.port}",), timeout=5, per_host=12)
    async with Fetcher(config) as fetcher, CountingPool(workers=1, queue=1) as parser:
        rig.fetcher, rig.parser = fetcher, parser
        await rig.poller(feeds).run_once()
    assert all(rig.store.feed_state(f.url).last_reason == "ok" for f in feeds)
    assert parser.most == 2  # workers + queue, while 12 bodies were fetched at once
    assert parser.unadmitted_parses == 0


async def test_a_changed_feed_normalises_only_its_new_items(rig: Rig) -> None:
    feed = FeedConfig(rig.server.add("/grows", counting_feed("story")), "grows")
    poller = rig.poller([feed])
    seen: list[ParsedFeed] = []
    parse = rig.parser.parse

    async def spy(*args: object, **kwargs: object) -> ParsedFeed:
        parsed = await parse(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(parsed)
        return parsed

    rig.parser.parse = spy  # type: ignore[method-assign]
    for _ in range(3):
        await poller.poll(feed)
    assert [(len(p.items), p.skipped) for p in seen] == [(1, 0), (1, 1), (1, 2)]
    assert [p.items[0].title for p in seen] == ["story 1", "story 2", "story 3"]
    value = rig.metrics.registry.get_sample_value
    assert value("newsmon_items_parsed_total") == 1 + 2 + 3
    assert value("newsmon_items_published_total") == 3


DUPLICATES = (
    b'<rss version="2.0"><channel><title>T</title>'
    b"<item><title>one</title><guid>same</guid><pubDate>yesterday</pubDate></item>"
    b"<item><title>two</title><guid>same</guid></item></channel></rss>"
)


async def test_the_poller_logs_and_counts_what_the_workers_cannot(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async def serve(request: web.Request) -> web.StreamResponse:
        return web.Response(body=DUPLICATES, headers={"Content-Type": "application/rss+xml"})

    feed = FeedConfig(rig.server.add("/dup", serve), "dup")
    poller = rig.poller([feed])
    caplog.set_level(logging.INFO, "monitor.sources.poller")
    for _ in range(2):
        await poller.poll(feed)
    said = [r.getMessage() for r in caplog.records if "feed_duplicate_ids" in r.getMessage()]
    assert said == ["feed_duplicate_ids feed=dup count=1 (both items kept, ids disambiguated)"]
    value = rig.metrics.registry.get_sample_value
    assert value("newsmon_item_ids_disambiguated_total") == 1
    assert value("newsmon_item_dates_flagged_total", {"flag": "unparseable"}) == 1
    assert value("newsmon_item_dates_flagged_total", {"flag": "future"}) == 0
    assert value("newsmon_item_age_seconds_count") == 0  # the first-seen fallback has no age
