"""Kafka stories role: what a takeover costs, per 1,000 stories of the window.

A desk partition's owner writes its stories (each with 3 members: a first item and two
wire copies) to ``<prefix>.stories`` as it runs (``PartitionStories.handle``); a new
owner reads that changelog partition (``read_committed``, to its last stable offset) and
restores it (decode, import into its ``:memory:`` view, ``StoryBook.load``: the features
and signatures of every member). Both halves are timed for windows of 1,000 and 5,000
stories, beside the baseline of the same run: a daemon restarted on its SQLite state file
(``StoryBook.load`` over the same stories). Wall time of the whole rebuild is what a
takeover waits; the CPU time of the restore is printed beside it (the machine is shared).
Target: the rebuild of 1,000 stories within 2 s (the 15 s takeover budget holds a 6 s
session timeout, the rebalance and a window of several thousand stories).

Needs a broker that keeps transactions' semantics: ``KAFKA_BOOTSTRAP_SERVERS``, else the
Tansu of ``bench/kafka.py`` (plain records only here, so it reads them as Apache Kafka).
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from bench.kafka import _broker
from monitor.bus.kafka_txn import read_changelog
from monitor.cluster.stories_partition import PartitionStories, Topics
from monitor.config import Settings
from monitor.dedup.stories import StoryBook
from monitor.metrics import Metrics
from monitor.model import Evidence, Item, Match, RuleHit
from monitor.store import Store

WINDOWS = (1_000, 5_000)
TARGET = 2.0  # seconds per 1,000 stories
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _matches(stories: int) -> list[Match]:
    rng = random.Random(11)
    words = ["".join(rng.choices(SYLLABLES, k=3)) for _ in range(4000)]
    hit = RuleHit("s400", "high", (("desk", "defence"),), (Evidence("S-400", "title", "S-400",
                                                                     0, 5),))  # fmt: skip
    out = []
    for n in range(stories):
        title = "S-400 " + " ".join(rng.choice(words) for _ in range(8))
        lead = " ".join(rng.choice(words) for _ in range(30)).capitalize() + "."
        for copy, mark in enumerate(("", "UPDATE 1-", "")):
            suffix = " - Reuters" if copy == 2 else ""
            out.append(Match(Item(id=f"i{n}-{copy}", feed_url=f"https://f{copy}.example/rss",
                                  feed=f"f{copy}", source=f"Outlet {copy}",
                                  title=f"{mark}{title}{suffix}", summary=lead,
                                  link=f"https://o{copy}.example/{n}"), (hit,)))  # fmt: skip
    return out


def _write(bootstrap: str, topics: Topics, matches: list[Match], state: Path) -> float:
    """Run the matches through an owner; its changelog records to the topic, the same
    stories into a state file (the baseline). Returns now (the owner's clock)."""
    owner = PartitionStories(0, Settings(path="bench"), Metrics(CollectorRegistry()), topics, [])
    file_book = StoryBook(Store(state))
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    now = time.time()
    for match in matches:
        for out in owner.handle(match, now):
            if out.topic == topics.stories:
                producer.send(out.topic, key=out.key, value=out.value, partition=0)
        file_book.observe(match, now)
    producer.flush()
    producer.close()
    file_book.store.close()
    owner.close()
    return now


def _measure(bootstrap: str) -> bool:
    ok = True
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    for stories in WINDOWS:
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        topics = Topics(f"{prefix}.stories", f"{prefix}.outbox", f"{prefix}.dead-letter", 1)
        admin.create_topics([NewTopic(topics.stories, 1, 1)])
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state.db"
            now = _write(bootstrap, topics, _matches(stories), state)
            t0 = time.perf_counter()
            records = read_changelog({"bootstrap_servers": [bootstrap]}, topics.stories, 0)
            t1, c1 = time.perf_counter(), time.process_time()
            view = PartitionStories(0, Settings(path="bench"), Metrics(CollectorRegistry()),
                                    topics, [])  # fmt: skip
            restored, _ = view.restore(records, now)
            t2, c2 = time.perf_counter(), time.process_time()
            baseline = StoryBook(Store(state))
            b0 = time.perf_counter()
            loaded = baseline.load(now)
            b1 = time.perf_counter()
            baseline.store.close()
            view.close()
        assert restored == loaded == stories, (restored, loaded)
        per = (t2 - t0) / stories * 1000
        met = per <= TARGET
        ok &= met
        print(
            f"stories rebuild, {stories:,} stories ({len(records):,} records): read"
            f" {t1 - t0:.2f}s + restore {t2 - t1:.2f}s (CPU {c2 - c1:.2f}s) ="
            f" {per:.2f}s per 1,000 stories (target <= {TARGET:g}s) {'ok' if met else 'MISSED'};"
            f" baseline, a state file's load: {(b1 - b0) / stories * 1000:.2f}s per 1,000"
        )
    admin.close()
    return ok


def run() -> bool:
    bootstrap, proc = _broker()
    try:
        return _measure(bootstrap)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
