"""Cardinality: 10,000 distinct items through the real pipeline add no series.

Every item has its own id, link and title, and one in ten matches a rule, so
items, matches, stories and alerts all carry distinct values; a label that
took any of them would grow the registry. The daemon runs in process (its
registry is read directly), twice over one set of metrics: after the first
100 items, then after the other 9,900.
"""

from __future__ import annotations

import asyncio
import random
import string
from pathlib import Path

import pytest
import support.config
from feedserver import FeedServer, rss, status
from prometheus_client import CollectorRegistry

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.config import load_config

pytestmark = pytest.mark.slow

FEEDS = 10
FIRST, TOTAL = 100, 10_000
RULES = """rules:
  - {name: s400, keywords: ["S-400"], severity: high}
  - {name: f35, keywords: ["F-35"], severity: medium}
"""

Series = tuple[str, tuple[tuple[str, str], ...]]


def title(n: int, rng: random.Random) -> str:
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=8)) for _ in range(7))
    topic = ("S-400", "F-35")[n % 2] if n % 10 == 0 else "Budget"  # one in ten matches
    return f"{topic} {words}".capitalize()


def body(feed: int, numbers: range, titles: dict[int, str]) -> bytes:
    items = "".join(
        f"<item><title>{titles[n]}</title><link>https://f{feed}.example/story/{n}</link>"
        f"<guid>urn:item:{n}</guid><pubDate>Fri, 12 Jul 2019 10:00:00 GMT</pubDate></item>"
        for n in numbers
        if n % FEEDS == feed
    )
    return f'<rss version="2.0"><channel><title>F{feed}</title>{items}</channel></rss>'.encode()


def serve(server: FeedServer, numbers: range, titles: dict[int, str]) -> dict[str, str]:
    return {f"feed-{f}": server.add(f"/f{f}.xml", rss(body(f, numbers, titles)))
            for f in range(FEEDS)}  # fmt: skip


def series(registry: CollectorRegistry) -> set[Series]:
    return {
        (s.name, tuple(sorted(s.labels.items())))
        for family in registry.collect()
        for s in family.samples
    }


def write_config(tmp: Path, feeds: dict[str, str]) -> Path:
    (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    return support.config.write_config(
        tmp, feeds, rules="[rules.yaml]",
        fetch="{allow_networks: ['127.0.0.1/32'], timeout: 20s, max_items: 1000}",  # whole feeds
    )  # fmt: skip


async def test_ten_thousand_distinct_items_add_no_series(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    rng = random.Random(5)
    titles = {n: title(n, rng) for n in range(TOTAL)}
    feeds = serve(feed_server, range(FIRST), titles)
    feeds["gone"] = feed_server.add("/gone.xml", status(404))  # a failing feed, both times
    settings = load_config(write_config(tmp_path, feeds), receivers=schemas())
    app = App(settings, registry=CollectorRegistry())
    registry = app.metrics.registry
    value = registry.get_sample_value

    await asyncio.wait_for(app.run(asyncio.Event(), once=True), 120)
    assert value("newsmon_items_published_total") == FIRST
    assert value("newsmon_alerts_sent_total", {"receiver": "desk-file"}) == FIRST // 10
    after_first = series(registry)

    serve(feed_server, range(FIRST, TOTAL), titles)  # the other 9,900, all new
    await asyncio.wait_for(app.run(asyncio.Event(), once=True), 600)
    assert value("newsmon_items_published_total") == TOTAL
    assert value("newsmon_stories_created_total") == TOTAL // 10
    assert value("newsmon_alerts_sent_total", {"receiver": "desk-file"}) == TOTAL // 10
    assert value("newsmon_alert_end_to_end_latency_seconds_count", {"receiver": "desk-file"}) == (
        TOTAL // 10
    )
    after_all = series(registry)

    print(f"series: {len(after_first)} after {FIRST} items, {len(after_all)} after {TOTAL}")
    assert len(after_all) == len(after_first)
    assert after_all == after_first
    values = {v for _, labels in after_all for _, v in labels}
    assert not {v for v in values if "://" in v or "example" in v or "urn:" in v}
    assert not values & set(titles.values())
