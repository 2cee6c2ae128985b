"""`newsmon replay` over 10,000 retained items finds what live processing found,
and counts the records it cannot read instead of stopping on them."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, feed
from kafka import KafkaProducer
from support.config import ROOT, write_config
from support.daemon import newsmon
from test_kafka import kafka_config, poison_published_as_a_number
from test_kafka_daemon import bus_yaml, offsets, running, sigterm

from monitor.bus.kafka import KafkaBus
from monitor.dedup.fingerprint import story_id
from monitor.model import Item
from monitor.replay import from_kafka, replay
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules, rule_files

pytestmark = pytest.mark.kafka
N = 10_000
EMPTY = b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>"
TERMS = ("S-400 battery arrives", "F-35 programme news", "CAATSA sanctions weighed")


def words(n: int) -> str:
    """Five made-up words, different for every story (no near-duplicate titles)."""
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    return " ".join(
        "".join(chr(97 + int(c, 16)) for c in digest[k : k + 7]) for k in (0, 7, 14, 21, 28)
    )


def items() -> list[Item]:
    """Every 10th item matches; two copies (same link) per story."""
    out = []
    for n in range(N):
        if n % 10 == 0:
            story = n // 20
            title, link = f"{TERMS[story % 3]}: {words(story)}", f"https://news.example/s/{story}"
        else:
            title, link = f"Local weather, day {n}", f"https://news.example/w/{n}"
        feed = f"https://feed{n % 7}.example/rss"
        out.append(Item(id=f"i{n}", feed_url=feed, feed=f"f{n % 7}", source="S", title=title,
                        link=link))  # fmt: skip
    return out


def stories(lines: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {(a["story_id"], tuple(a["rules"])) for a in lines}  # type: ignore[arg-type]


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_replay_finds_the_matches_live_processing_found(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    bus_config = kafka_config(kafka_bootstrap, topic_prefix)
    sample = items()
    async with KafkaBus(bus_config) as bus:
        for start in range(0, N, 1000):
            await asyncio.gather(
                *(bus.publish("items", i.id, i) for i in sample[start : start + 1000])
            )
    engine = Engine(load_rules(rule_files([f"{ROOT}/rules/*.yaml"])))
    expected = {story_id(i) for i in sample if engine.match(i)}
    assert len(expected) == N // 20

    quiet = {"quiet": feed_server.add("/quiet.xml", feed(EMPTY))}  # keeps the daemon running
    config = write_config(tmp_path, quiet, extra=bus_yaml(kafka_bootstrap, topic_prefix))
    async with running(config) as proc:
        async with asyncio.timeout(120):
            while not (
                offsets(bus_config, "items", "rules") == N
                and offsets(bus_config, "matches", "alerts") == N // 10
            ):
                await asyncio.sleep(0.5)
        await sigterm(proc, config)
    live = read(tmp_path / "alerts.jsonl")
    assert {a["story_id"] for a in live} == expected

    out = tmp_path / "replay.jsonl"
    code, stdout, stderr = await newsmon("replay", "-c", str(config), "--since", "1d",
                                         "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    replayed = read(out)
    assert stories(replayed) == stories(live)
    assert len(replayed) == len(live)
    assert f"replay: {N:,} items" in stdout
    assert f"{N // 20:,} stories alerted, {N // 20:,} duplicates absorbed" in stdout
    assert "\r[" not in stdout + stderr  # no progress bar when stdout is not a terminal


async def test_replay_counts_records_it_cannot_read_and_goes_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Once, an envelope with ``"published": 1`` stopped a replay with AttributeError."""
    bus_config = kafka_config(kafka_bootstrap, topic_prefix, partitions=1)
    sample = items()[:20]  # two copies of one story among them
    async with KafkaBus(bus_config) as bus:
        await bus.publish_many("items", [(i.id, i) for i in sample[:10]])
        raw = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        raw.send(f"{topic_prefix}.items", key=b"number", value=poison_published_as_a_number())
        raw.send(f"{topic_prefix}.items", key=b"nested", value=b"[" * 10_000 + b"]" * 10_000)
        raw.flush()
        raw.close()
        await bus.publish_many("items", [(i.id, i) for i in sample[10:]])
    engine = Engine(load_rules(rule_files([f"{ROOT}/rules/*.yaml"])))
    out = io.StringIO()
    now = datetime.now(UTC)
    source = from_kafka(bus_config, now - timedelta(hours=1), now + timedelta(minutes=1))
    summary = await asyncio.to_thread(replay, source, engine, out, bar=False)
    assert (summary.items, summary.unreadable) == (22, 2)
    assert (summary.matched, summary.stories, summary.duplicates) == (2, 1, 1)
    assert len(out.getvalue().splitlines()) == 1
