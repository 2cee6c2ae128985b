"""Feeds owned through the group (issue 11, role 1), on real daemons and Apache Kafka: each
feed polled by exactly one daemon at a time, once per interval across the group, and
taken over (state restored: conditional polls, nothing published again) when the
group changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from cluster import Group, Syndication, published, until_in
from feedserver import FeedServer
from support.daemon import until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def assert_polled_once_per_interval(scenario: Syndication, since: float, end: float) -> None:
    """No feed fetched twice at once or twice within half its interval (two daemons on
    their own schedules would be); and no more fetches of a feed in [since, until) than
    the interval allows (one daemon waits the interval, jitter 0, between two polls)."""
    assert scenario.overlaps() == []
    assert scenario.too_soon() == []
    allowed = (end - since) / scenario.interval + 1
    for name, fetches in scenario.fetches().items():
        inside = [f for f in fetches if since <= f.at < end]
        assert len(inside) <= allowed, (name, len(inside), allowed)


async def test_three_daemons_poll_each_feed_once_per_interval(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Acceptance 1, the feeds' half: 40 stories x 5 copies over 8 feeds, released over
    five polls of each; 3 daemons of one group poll them."""
    scenario = Syndication(feed_server)
    async with Group(tmp_path, scenario, kafka_bootstrap, topic_prefix, http=True) as group:
        await group.start("d1", "d2", "d3")
        owned = await group.until_owned(["d1", "d2", "d3"])
        settled = time.monotonic()
        await until(scenario.released, "every batch served", 120)
        await until_in(lambda: published(kafka_bootstrap, topic_prefix), len(scenario.copies),
                       "items published")  # fmt: skip
        await asyncio.sleep(2 * scenario.interval)  # two more rounds of (conditional) polls
        ended = time.monotonic()
        assert await group.owned(["d1", "d2", "d3"]) == owned  # no rebalance since
        pollers = scenario.pollers(since=settled)
        print(f"feeds owned {owned}; fetches per daemon {dict(scenario.shares())}")
    assert all(len(daemons) == 1 for daemons in pollers.values()), pollers
    by_daemon = {d: sum(1 for p in pollers.values() if d in p) for d in ("d1", "d2", "d3")}
    assert by_daemon == owned  # each polled exactly the feeds it owned
    assert_polled_once_per_interval(scenario, settled, ended)
    items = published(kafka_bootstrap, topic_prefix)
    assert set(items) == {c.link for c in scenario.copies}
    assert max(items.values()) == 1  # nothing published twice, takeovers at the start too


async def test_a_fourth_daemon_takes_its_share_then_gives_it_back(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Acceptance 4, the feeds' half: 48 feeds over 6 partitions; a 4th daemon joins (it is
    given partitions, so feeds) and leaves (SIGTERM: its feeds' last states written, the
    group left). Every feed stays polled by one daemon at a time, and nothing is published
    twice: each takeover restores the feed's validators and the ids of its last body."""
    scenario = Syndication(feed_server, feeds=48, batches=10, interval=3.0)
    names = ["d1", "d2", "d3"]
    bus = {"partitions": 6}
    async with Group(tmp_path, scenario, kafka_bootstrap, topic_prefix, bus=bus,
                     http=True) as group:  # fmt: skip
        await group.start(*names)
        before = await group.until_owned(names)
        joined_at = time.monotonic()
        await group.start("d4")
        during = await group.until_owned([*names, "d4"])
        joined = time.monotonic()
        await asyncio.sleep(3 * scenario.interval)
        leaving = time.monotonic()
        assert await group.stop("d4") == 0, group.log("d4")[-3000:]
        after = await group.until_owned(names)
        left = time.monotonic()
        await asyncio.sleep(3 * scenario.interval)
        pollers_with_four = scenario.pollers(since=joined, until=leaving)
        pollers_after = scenario.pollers(since=left)
        await until(scenario.released, "every batch served", 120)
        await until_in(lambda: published(kafka_bootstrap, topic_prefix), len(scenario.copies),
                       "items published")  # fmt: skip
        print(f"owned: {before} -> {during} -> {after}; join settled in {joined - joined_at:.1f}s"
              f" (the 4th daemon's start included), leave in {left - leaving:.1f}s")  # fmt: skip
    assert during["d4"] > 0 and sum(during.values()) == 48
    assert all(len(daemons) == 1 for daemons in pollers_with_four.values())
    d4_feeds = {f for f, daemons in pollers_with_four.items() if daemons == {"d4"}}
    assert len(d4_feeds) == during["d4"]
    assert all(len(daemons) == 1 for daemons in pollers_after.values())
    assert "d4" not in set().union(*pollers_after.values())
    assert scenario.overlaps() == [] and scenario.too_soon() == []
    items = published(kafka_bootstrap, topic_prefix)
    assert set(items) == {c.link for c in scenario.copies}
    assert max(items.values()) == 1  # the takeovers both ways republished nothing
