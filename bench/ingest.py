"""Ingest: newsmon's hardened parse + normalise against raw feedparser.

The baseline is ``feedparser.parse`` alone on the same bodies, in the same
run. newsmon adds the hostile-input defences (DOCTYPE removal, long-run
cutting) and normalisation (canonical links, HTML to text, UTC dates).
Target: newsmon keeps at least 50 % of raw feedparser's item throughput.
Also timed: the store's seen-item filter at 10,000 known items per feed.
"""

from __future__ import annotations

import io
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from monitor.config import FeedConfig
from monitor.sources.parse import parse_and_normalise
from monitor.store import Store

ITEMS_PER_FEED = 50
ROUNDS = 40


def make_feed(n: int) -> bytes:
    items = "".join(
        f"<item><title>Story {i}: S-400 deliveries &amp; F-35 exit, day {i}</title>"
        f"<link>https://news.example/story/{i}?utm_source=rss&amp;id={i}</link>"
        f"<guid>urn:story:{i}</guid><pubDate>Fri, 12 Jul 2019 09:{i % 60:02d}:00 +0300</pubDate>"
        f"<description>&lt;p&gt;Ankara took delivery of the &lt;b&gt;S-400&lt;/b&gt; system on "
        f"day {i}; Washington weighs sanctions. {'Background paragraph. ' * 20}&lt;/p&gt;"
        "</description></item>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench</title><link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


def _rate(fn: object, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()  # type: ignore[operator]
    return rounds * ITEMS_PER_FEED / (time.perf_counter() - start)


def run() -> bool:
    body = make_feed(ITEMS_PER_FEED)
    headers = {"content-type": "application/rss+xml"}
    feed = FeedConfig(url="https://news.example/rss", name="bench")
    seen = datetime.now(UTC)
    baseline = _rate(lambda: feedparser.parse(io.BytesIO(body), response_headers=headers), ROUNDS)
    newsmon = _rate(lambda: parse_and_normalise(body, headers, feed, seen), ROUNDS)
    ratio = newsmon / baseline
    print(f"ingest: raw feedparser        {baseline:10,.0f} items/s (baseline)")
    print(f"ingest: newsmon parse+normalise {newsmon:8,.0f} items/s ({ratio:.0%} of baseline)")
    ok = ratio >= 0.5
    print(f"ingest: target >= 50% of baseline: {'met' if ok else 'MISSED'}")

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        known = [f"urn:story:{i}" for i in range(10_000)]
        store.mark_seen(feed.url, known, time.time())
        batch = known[-40:] + [f"new:{i}" for i in range(10)]
        start = time.perf_counter()
        for _ in range(500):
            store.unseen(feed.url, batch)
        per_poll = (time.perf_counter() - start) / 500
        print(
            f"store: seen filter for a 50-item poll at 10,000 known items: {per_poll * 1e6:,.0f} µs"
        )
    return ok
