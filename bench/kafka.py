"""Kafka bus: raw kafka-python against the bus, in the same run, on a local Apache Kafka.

Values are 1 KB items in the model's envelope, with the bus's three headers
(schema version, record type, origin); the raw baseline sends and reads the
same records (encoding, decoding and checking the schema header, as a raw
client of these topics must), so the difference is the bus itself: threads,
completions, ack/commit tracking. Both produce with the bus's producer
settings (acks=all, idempotence, gzip, linger, 256 KiB batches).
Each side runs five times, interleaved; the best rate of each is compared.
Targets: the bus costs <= 20 % over raw for produce and for consume; replay
(read + rules + story dedup, as ``newsmon replay`` runs it) >= 20,000 items/s.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from monitor.bus.kafka import KafkaBus, consumer_kwargs
from monitor.bus.kafka_admin import probe
from monitor.config import BusConfig
from monitor.dedup.stories import StoryBook
from monitor.model import Item, decode, encode
from monitor.replay import by_story_book, from_kafka, replay
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules, rule_files
from monitor.store import Store

N = 20_000
ROUNDS = 5
ROOT = Path(__file__).resolve().parents[1]


def _items(n: int) -> list[Item]:
    """``n`` items of ~1 KB; one in ten names the S-400 (the shipped rules match it) under
    a title of its own, and half of those are wire copies of an earlier one, so replay's
    story dedup does real work: thousands of stories, copies joined to them."""
    rng = random.Random(5)
    words = ["".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))
             for _ in range(5000)]  # fmt: skip
    matched: list[str] = []
    out = []
    for k in range(n):
        if k % 10:
            title = " ".join(rng.choice(words) for _ in range(8)).capitalize()
        elif matched and k % 20 == 0:
            title = f"UPDATE 1-{rng.choice(matched)} - Reuters"
        else:
            title = f"S-400 {' '.join(rng.choice(words) for _ in range(7))}"
            matched.append(title)
        out.append(Item(id=f"i{k}", feed_url=f"https://f{k % 50}.example/rss", feed=f"f{k % 50}",
                        source=f"F{k % 50}", title=title, summary="x" * 800,
                        link=f"https://news.example/{k}"))  # fmt: skip
    return out


def _broker() -> tuple[str, Any]:
    """KAFKA_BOOTSTRAP_SERVERS if set; else Apache Kafka (KRaft, one node, as the tests
    start it: tests/kafka_broker.py), or Tansu with NEWSMON_TEST_BROKER=tansu."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return servers, None
    sys.path.insert(0, str(ROOT / "tests"))
    from kafka_broker import new_broker

    broker = new_broker(Path(tempfile.mkdtemp(prefix="newsmon-bench-kafka-")))
    broker.start()
    print(f"kafka bench broker: {type(broker).__name__} at {broker.bootstrap}")
    while not probe([broker.bootstrap], 0.5):
        time.sleep(0.05)
    return broker.bootstrap, broker


def _raw_produce(config: BusConfig, topic: str, items: list[Item]) -> float:
    producer = KafkaProducer(
        bootstrap_servers=list(config.bootstrap_servers),
        acks="all",
        enable_idempotence=True,
        compression_type=config.compression,
        linger_ms=int(config.linger * 1000),
        batch_size=config.batch_size,
    )
    producer.partitions_for(topic)
    origin = b"raw-baseline-origin-0123456789ab"
    start = time.perf_counter()
    for item in items:
        headers = [("newsmon-schema", b"1"), ("newsmon-type", b"item"), ("newsmon-origin", origin)]
        producer.send(topic, key=item.id.encode(), value=encode(item), headers=headers)
    producer.flush()
    rate = len(items) / (time.perf_counter() - start)
    producer.close()
    return rate


def _raw_consume(config: BusConfig, topic: str, n: int) -> float:
    consumer = KafkaConsumer(**consumer_kwargs(config, None))
    parts = [TopicPartition(topic, p) for p in range(config.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    got, start = 0, time.perf_counter()
    while got < n:
        for records in consumer.poll(500, max_records=500).values():
            for record in records:
                if dict(record.headers).get("newsmon-schema") == b"1":
                    decode(record.value)
                got += 1
    rate = n / (time.perf_counter() - start)
    consumer.close()
    return rate


async def _bus(config: BusConfig, items: list[Item], group: str) -> tuple[float, float]:
    async with KafkaBus(config) as bus:
        start = time.perf_counter()
        for k in range(
            0, len(items), 2000
        ):  # as the poller publishes: a feed's new items at a time
            feeds = [items[f : f + 40] for f in range(k, min(k + 2000, len(items)), 40)]
            await asyncio.gather(
                *(bus.publish_many("items", [(i.id, i) for i in feed]) for feed in feeds)
            )
        produce = len(items) / (time.perf_counter() - start)
        got, first = 0, 0.0
        async for message in bus.consume("items", group):  # a new group: joins first
            if got == 0:
                first = time.perf_counter()  # the clock starts at the first record
            await message.ack()
            got += 1
            if got == len(items):
                break
        consume = (len(items) - 1) / (time.perf_counter() - first)
    return produce, consume


def run() -> bool:
    bootstrap, broker = _broker()
    try:
        return _measure(bootstrap)
    finally:
        if broker is not None:
            broker.close()


def _measure(bootstrap: str) -> bool:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    config = BusConfig(kind="kafka", bootstrap_servers=(bootstrap,), topic_prefix=prefix,
                       group_id=prefix, partitions=3, session_timeout=6.0,
                       heartbeat_interval=1.0, max_poll_interval=10.0)  # fmt: skip
    items = _items(N)
    raw_topic = f"{prefix}.items"  # the bus made it; raw appends to it too
    rates: dict[str, list[float]] = {"bp": [], "bc": [], "rp": [], "rc": []}
    for r in range(ROUNDS):  # interleaved, best of each: the machine's noise hits both
        bus_produce, bus_consume = asyncio.run(_bus(config, items, f"bench{r}"))
        rates["bp"].append(bus_produce)
        rates["bc"].append(bus_consume)
        rates["rp"].append(_raw_produce(config, raw_topic, items))
        rates["rc"].append(_raw_consume(config, raw_topic, N))
    bus_produce, bus_consume, raw_produce, raw_consume = (max(rates[k]) for k in rates)
    ok = True
    pairs = (("produce", raw_produce, bus_produce), ("consume", raw_consume, bus_consume))
    for what, raw, bus in pairs:
        overhead = raw / bus - 1
        met = overhead <= 0.20
        ok &= met
        verdict = "met" if met else "MISSED"
        print(
            f"kafka {what}: raw kafka-python {raw:9,.0f} msg/s, bus {bus:9,.0f} msg/s,"
            f" overhead {overhead:+.0%} (target <= 20%: {verdict})"
        )
    engine = Engine(load_rules(rule_files([f"{ROOT}/rules/*.yaml"])))
    now = datetime.now(UTC)
    start = time.perf_counter()
    with Store(":memory:") as store:
        observe = by_story_book(StoryBook(store))  # as `newsmon replay` does
        source = from_kafka(config, now - timedelta(days=1), now)
        summary = replay(source, engine, io.StringIO(), bar=False, observe=observe)
        rate = summary.items / (time.perf_counter() - start)
    met = rate >= 20_000
    print(f"kafka replay: {summary.items:,} items at {rate:,.0f} items/s; {summary.matched:,}"
          f" matched, {summary.stories:,} stories, {summary.duplicates:,} copies joined"
          f" (target >= 20,000/s: {'met' if met else 'MISSED'})")  # fmt: skip
    return ok and met
