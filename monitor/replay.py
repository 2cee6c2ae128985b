"""``newsmon replay``: a backtest of rules over the items newsmon retained.

The items come from the state file (the default install keeps every new item for
``state.item_retention``, 7 days) or, on a Kafka bus, from ``<prefix>.items``
between ``--since`` and ``--until`` with no consumer group (partitions assigned,
start found with ``offsets_for_times``; nothing is committed, no live consumer is
disturbed; each partition read up to the high watermark seen on its first fetch,
so a replay ends even while the daemon keeps publishing). Rules and story dedup
run on every item and the alerts that *would* have gone out, one per story, are
written; nothing is sent.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.alerts.route import alerts_for
from monitor.bus.kafka import consumer_kwargs
from monitor.config import BusConfig
from monitor.dedup.fingerprint import story_id
from monitor.errors import BusError
from monitor.model import Alert, Item, Match, decode
from monitor.rules.engine import Engine

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``36h``, ``90m`` ago, or an ISO 8601 time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    if m := _DURATION.match(text.strip()):
        return now - timedelta(seconds=float(m[1]) * _UNIT[m[2]])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a duration such as 7d or an ISO 8601 time, got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(slots=True)
class Summary:
    items: int = 0
    unreadable: int = 0
    matched: int = 0
    duplicates: int = 0  # matched items absorbed into a story already alerted
    alerts_per_rule: Counter[str] = field(default_factory=Counter)
    stories: int = 0

    def lines(self, seconds: float) -> list[str]:
        rate = self.items / seconds if seconds > 0 else 0.0
        out = [
            f"replay: {self.items:,} items in {seconds:.1f}s ({rate:,.0f} items/s),"
            f" {self.unreadable:,} unreadable",
            f"replay: {self.matched:,} matched items, {self.stories:,} stories alerted,"
            f" {self.duplicates:,} duplicates absorbed",
        ]
        out += [f"replay:   {rule}: {n:,} alerts" for rule, n in self.alerts_per_rule.most_common()]
        return out


Observe = Callable[[Match], tuple[str, bool]]  # match -> (story id, new story?)


def by_fingerprint() -> Observe:
    """Exact story dedup: ``fingerprint.story_id`` (canonical link, else feed + id)."""
    seen: set[str] = set()

    def observe(match: Match) -> tuple[str, bool]:
        key = story_id(match.item)
        new = key not in seen
        seen.add(key)
        return key, new

    return observe


def by_story_book(book: Any) -> Observe:
    """The daemon's own story dedup (``dedup.stories.StoryBook``, near-duplicates
    too), on a throwaway store, timed by when each item was seen."""

    def observe(match: Match) -> tuple[str, bool]:
        seen = book.observe(match, match.item.seen.timestamp())
        return seen.story.story_id, seen.new

    return observe


class Backtest:
    """Rules + story dedup over items: one alert per story, first copy wins."""

    def __init__(self, engine: Engine, observe: Observe | None = None) -> None:
        self.engine = engine
        self.observe = observe or by_fingerprint()
        self.summary = Summary()

    def feed(self, item: Item) -> Alert | None:
        self.summary.items += 1
        hits = self.engine.match(item)
        if not hits:
            return None
        self.summary.matched += 1
        match = Match(item, hits)
        key, new = self.observe(match)
        if not new:
            self.summary.duplicates += 1
            return None
        self.summary.stories += 1
        self.summary.alerts_per_rule.update(match.rules)
        return alerts_for(match, key, ["replay"])[0]


Progress = Callable[[int, int], None]  # (records read, records in range)


def read_items(
    config: BusConfig, since: datetime, until: datetime, progress: Progress | None = None
) -> Iterator[Item | None]:
    """Items of the items topic published in [since, until]; None for an unreadable record."""
    kwargs = consumer_kwargs(config, None)
    kwargs.update(max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    try:
        consumer = KafkaConsumer(**kwargs)
    except KafkaError as exc:
        raise BusError(f"kafka: cannot reach {','.join(config.bootstrap_servers)}: {exc}") from exc
    try:
        yield from _read(consumer, f"{config.topic_prefix}.items", since, until, progress)
    except KafkaError as exc:
        raise BusError(f"kafka: replay failed: {exc}") from exc
    finally:
        consumer.close(autocommit=False)


def _read(
    consumer: Any, topic: str, since: datetime, until: datetime, progress: Progress | None
) -> Iterator[Item | None]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise BusError(f"kafka: topic {topic} does not exist (nothing retained)")
    parts = [TopicPartition(topic, p) for p in sorted(partitions)]
    since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    consumer.assign(parts)
    start = _seek(consumer, parts, since_ms)
    ends: dict[TopicPartition, int] = {}
    read = 0
    while len(ends) < len(parts) or any(consumer.position(tp) < ends[tp] for tp in parts):
        batch = consumer.poll(timeout_ms=500, max_records=5000)
        for tp in parts:
            if tp not in ends and (high := consumer.highwater(tp)) is not None:
                ends[tp] = high  # frozen: a replay ends while the daemon publishes on
        for tp, records in batch.items():
            for record in records:
                if record.offset >= ends.get(tp, record.offset + 1):
                    continue
                read += 1
                if since_ms <= record.timestamp <= until_ms:
                    yield _item(record.value)
        if progress is not None and len(ends) == len(parts):
            progress(read, sum(max(0, ends[tp] - start[tp]) for tp in parts))


def _seek(consumer: Any, parts: list[TopicPartition], since_ms: int) -> dict[TopicPartition, int]:
    found = consumer.offsets_for_times({tp: since_ms for tp in parts})
    start = {}
    for tp in parts:
        at = found.get(tp)
        if at is None or at.timestamp < 0:  # nothing at or after since (Tansu says -1)
            consumer.seek_to_end(tp)
            start[tp] = consumer.position(tp)
        else:
            consumer.seek(tp, at.offset)
            start[tp] = at.offset
    return start


def _item(raw: bytes | None) -> Item | None:
    """The item in ``raw``; None for anything else (counted as unreadable)."""
    try:
        record = decode(raw or b"")
    except Exception:  # decode promises ValueError; a replay never stops on one record
        return None
    return record if isinstance(record, Item) else None


class ProgressBar:
    """``[#####     ] 5,000/10,000 items  21,000 items/s  ETA 0:00:01`` on a terminal."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.out, self.width = out, width
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.2:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-9)
        filled = int(self.width * done / total) if total else self.width
        eta = timedelta(seconds=int((total - done) / rate)) if rate and total > done else "0:00:00"
        bar = "#" * filled + " " * (self.width - filled)
        self.out.write(f"\r[{bar}] {done:,}/{total:,} items  {rate:,.0f} items/s  ETA {eta} ")
        if final:
            self.out.write("\n")
        self.out.flush()


Source = Callable[[Progress], Iterable[Item | None]]  # progress callback -> items


def from_kafka(config: BusConfig, since: datetime, until: datetime) -> Source:
    """The items the Kafka items topic retained between ``since`` and ``until``."""
    return lambda report: read_items(config, since, until, report)


def from_store(store: Any, since: datetime, until: datetime) -> Source:
    """The items the state file retained (``state.item_retention``), in publish order."""
    start, end = since.timestamp(), until.timestamp()

    def items(report: Progress) -> Iterator[Item]:
        total = store.retained_count(start, end)
        for n, item in enumerate(store.retained_items(start, end), 1):
            if n % 1000 == 0 or n == total:
                report(n, total)
            yield item

    return items


def replay(source: Source, engine: Engine, out: TextIO, *, bar: bool,
           observe: Observe | None = None) -> Summary:  # fmt: skip
    """Write the alerts that would have gone out as JSON lines to ``out``."""
    import json

    backtest = Backtest(engine, observe)
    progress = ProgressBar() if bar else None
    last = (0, 0)

    def report(done: int, total: int) -> None:
        nonlocal last
        last = (done, total)
        if progress is not None:
            progress(done, total)

    for item in source(report):
        if item is None:
            backtest.summary.unreadable += 1
            backtest.summary.items += 1
        elif (alert := backtest.feed(item)) is not None:
            out.write(json.dumps(alert.to_dict(), ensure_ascii=False) + "\n")
    if progress is not None and last[1]:
        progress(*last, final=True)
    return backtest.summary
