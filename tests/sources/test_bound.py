"""Big feeds bounded: only the newest ``fetch.max_items`` entries are read, by date
where the feed dates them, else in document order; and acceptance 3: a
100,000-item feed, served by a real server through the real fetch and parse
workers, yields its newest 500 items on every poll, within the parse deadline."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from feedserver import FeedServer
from prometheus_client import CollectorRegistry

from monitor.bus import ITEMS
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig
from monitor.metrics import Metrics
from monitor.sources.bound import cut_entries, newest
from monitor.sources.fetch import Fetcher
from monitor.sources.parse import parse_and_normalise
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import Store

FEED = FeedConfig(url="https://big.example/rss", name="big")
SEEN = datetime(2025, 1, 1, tzinfo=UTC)
START = datetime(2020, 1, 1, tzinfo=UTC)


def rss(count: int, *, dated: bool = True, oldest_first: bool = True, extra: str = "") -> bytes:
    numbers = range(count) if oldest_first else range(count - 1, -1, -1)
    items = []
    for n in numbers:
        when = (START + timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        date = f"<pubDate>{when}</pubDate>" if dated else ""
        items.append(f"<item><title>Story {n}</title><guid>s{n}</guid>{date}{extra}</item>")
    return (f'<rss version="2.0"><channel><title>Big</title>{"".join(items)}'
            "<ttl>5</ttl></channel></rss>").encode()  # fmt: skip


def guids(body: bytes, max_items: int) -> list[str]:
    parsed = parse_and_normalise(body, {}, FEED, SEEN, max_items=max_items)
    return sorted((i.guid or "" for i in parsed.items), key=lambda g: int(g[1:]))


def test_the_newest_by_date_are_kept_whatever_the_order() -> None:
    assert guids(rss(10), 3) == ["s7", "s8", "s9"]
    assert guids(rss(10, oldest_first=False), 3) == ["s7", "s8", "s9"]
    cut, dropped = cut_entries(rss(10), 3)
    assert dropped == 7 and b"<ttl>5</ttl>" in cut and cut.startswith(b'<rss version="2.0">')


def test_undated_feeds_keep_the_first_entries_of_the_document() -> None:
    assert guids(rss(10, dated=False, oldest_first=False), 3) == ["s7", "s8", "s9"]
    assert guids(rss(10, dated=False), 3) == ["s0", "s1", "s2"]


def test_a_feed_within_the_bound_is_read_whole_and_not_marked() -> None:
    body = rss(5)
    assert cut_entries(body, 5) == (body, 0)
    assert parse_and_normalise(body, {}, FEED, SEEN, max_items=5).truncated == 0


def test_markup_in_cdata_and_comments_is_no_entry() -> None:
    tricky = (
        "<description><![CDATA[<item><title>fake</title></item>]]></description><!-- <item> -->"
    )
    cut, dropped = cut_entries(rss(6, extra=tricky), 2)
    assert dropped == 4
    parsed = parse_and_normalise(cut, {}, FEED, SEEN, max_items=2)
    assert [i.guid for i in parsed.items] == ["s4", "s5"] and parsed.truncated == 0


def test_atom_entries_are_bounded_too() -> None:
    entries = "".join(
        f"<entry><id>e{n}</id><title>t{n}</title><updated>2024-01-0{n + 1}T00:00:00Z</updated>"
        "</entry>"
        for n in range(6)
    )
    body = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entries}</feed>'.encode()
    parsed = parse_and_normalise(body, {}, FEED, SEEN, max_items=2)
    assert sorted(i.id for i in parsed.items) == ["e4", "e5"] and parsed.truncated == 4


def test_json_feed_items_are_bounded_by_date() -> None:
    items = [{"id": f"j{n}", "title": f"t{n}", "date_published": f"2024-01-0{n + 1}T00:00:00Z"}
             for n in range(6)]  # fmt: skip
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    parsed = parse_and_normalise(body, {}, FEED, SEEN, max_items=2)
    assert sorted(i.id for i in parsed.items) == ["j4", "j5"] and parsed.truncated == 4


def test_newest_with_some_undated_entries_takes_the_dated_first() -> None:
    dates = [None, "2024-01-02T00:00:00Z", "not a date", "2024-01-01T00:00:00Z", None]
    assert newest(dates, 2) == [1, 3]
    assert newest(dates, 3) == [0, 1, 3]


async def test_a_100000_item_feed_yields_its_newest_500_on_every_poll(tmp_path: Path) -> None:
    count = 100_000
    body = rss(count)  # oldest first: the newest 500 are the last of the document

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": "application/rss+xml"})

    schedule = ScheduleConfig(interval=60, min_interval=60, jitter=0.0)
    metrics = Metrics(CollectorRegistry())
    async with FeedServer() as server:
        feed = FeedConfig(server.add("/big.xml", serve), "big")
        config = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",), max_bytes=64 << 20)
        with Store(tmp_path / "state.db") as store:
            async with (
                Fetcher(config) as fetcher,
                ParsePool(workers=1, timeout=10.0, max_items=500) as pool,
                MemoryBus() as bus,
            ):
                poller = Poller([feed], fetcher=fetcher, parser=pool, store=store, bus=bus,
                                metrics=metrics, schedule=schedule)  # fmt: skip
                published = []
                for _ in range(3):
                    await poller.poll(feed)
                    state = store.feed_state(feed.url)
                    assert (state.last_reason, state.truncated) == ("ok", count - 500), state
                    published.append(bus.depth(ITEMS))
                messages = bus.consume(ITEMS, "test")
                got = [(await asyncio.wait_for(anext(messages), 5)).value for _ in range(500)]
    assert published == [500, 500, 500]  # the first poll's 500, none again after
    assert sorted(item.guid for item in got) == sorted(f"s{n}" for n in range(count - 500, count))
    value = metrics.registry.get_sample_value
    assert value("newsmon_feeds_truncated") == 1
    assert value("newsmon_feed_items_truncated_total") == 3 * (count - 500)
