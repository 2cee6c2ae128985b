"""The Kafka bus against a real Kafka-protocol broker (Tansu, or KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from monitor.bus import ITEMS, pump
from monitor.bus.kafka import KafkaBus, consumer_kwargs
from monitor.bus.kafka_admin import TopicSpec, duration, ensure_topics, retention_problem
from monitor.bus.kafka_consumer import finish_dropped_join
from monitor.config import BusConfig
from monitor.metrics import Metrics
from monitor.model import Item, Record, decode, encode

pytestmark = pytest.mark.kafka


def kafka_config(bootstrap: str, prefix: str, **overrides: object) -> BusConfig:
    """The settings the tests use: fast group joins (~3 s instead of ~20 s)."""
    base: dict[str, object] = {
        "kind": "kafka",
        "bootstrap_servers": (bootstrap,),
        "topic_prefix": prefix,
        "group_id": prefix,
        "partitions": 3,
        "session_timeout": 6.0,
        "heartbeat_interval": 1.0,
        "max_poll_interval": 10.0,
        "commit_interval": 0.2,
    }
    base.update(overrides)
    return BusConfig(**base)  # type: ignore[arg-type]


def item(n: int) -> Item:
    return Item(id=f"i{n}", feed_url="https://f.example/rss", feed="f", source="F", title=f"t{n}")


async def collect(bus: KafkaBus, topic: str, group: str, want: int, ack: bool = True) -> list[str]:
    got: list[str] = []
    consumer = bus.consume(topic, group)
    try:
        async with asyncio.timeout(60):
            async for message in consumer:
                got.append(message.key)
                if ack:
                    await message.ack()
                if len(got) >= want:
                    break
    finally:
        await consumer.aclose()
    return got


def committed(config: BusConfig, topic: str, group: str) -> int:
    c = KafkaConsumer(**consumer_kwargs(config, f"{config.group_id}.{group}"))
    try:
        name = f"{config.topic_prefix}.{topic}"
        parts = [TopicPartition(name, p) for p in range(config.partitions)]
        return sum(c.committed(tp) or 0 for tp in parts)
    finally:
        c.close(autocommit=False)


@pytest.fixture
async def bus(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaBus]:
    async with KafkaBus(kafka_config(kafka_bootstrap, topic_prefix)) as bus:
        yield bus


async def test_publish_consume_drain_and_commit_only_what_is_acked(bus: KafkaBus) -> None:
    for n in range(30):
        await bus.publish("items", f"i{n}", item(n))
    assert bus.depth("items") == 30

    async def stage() -> None:
        async for message in bus.consume("items", "rules"):
            assert isinstance(message.value, Item) and message.value.id == message.key
            await message.ack()

    task = asyncio.create_task(stage())
    await asyncio.wait_for(bus.drain("items"), 60)
    assert bus.depth("items") == 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert committed(bus.config, "items", "rules") == 30


async def test_unacked_messages_are_redelivered_to_the_next_consumer(bus: KafkaBus) -> None:
    for n in range(10):
        await bus.publish("items", f"i{n}", item(n))
    first = await collect(bus, "items", "rules", 10, ack=False)
    assert sorted(first) == sorted(f"i{n}" for n in range(10))
    assert committed(bus.config, "items", "rules") == 0
    again = await collect(bus, "items", "rules", 10)
    assert sorted(again) == sorted(first)
    assert committed(bus.config, "items", "rules") == 10


async def test_poison_records_go_to_dead_letter_and_the_rest_flows(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    config = kafka_config(kafka_bootstrap, topic_prefix)
    async with KafkaBus(config, metrics) as bus:
        await bus.publish("items", "i0", item(0))
        raw = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        name = f"{topic_prefix}.items"
        raw.send(name, key=b"bad1", value=b"\xff not json")
        future = json.dumps({"type": "item", "v": 99, "data": {}}).encode()
        raw.send(name, key=b"bad2", value=future, headers=[("newsmon-schema", b"99")])
        raw.send(name, key=b"bad3", value=json.dumps({"type": "item", "v": 1}).encode())
        raw.flush()
        raw.close()
        await bus.publish("items", "i1", item(1))
        got = await collect(bus, "items", "rules", 2)
        assert sorted(got) == ["i0", "i1"]
    dead = KafkaConsumer(
        f"{topic_prefix}.dead-letter", bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest", consumer_timeout_ms=5000,
    )  # fmt: skip
    letters = {r.key: dict(r.headers) for r in dead}
    dead.close()
    assert set(letters) == {b"bad1", b"bad2", b"bad3"}
    assert letters[b"bad1"]["newsmon-error"] == b"undecodable"
    assert letters[b"bad2"]["newsmon-error"] == b"unknown_schema"
    assert letters[b"bad3"]["newsmon-error"] == b"undecodable"
    assert letters[b"bad1"]["newsmon-source"].startswith(f"{topic_prefix}.items/".encode())
    sample = metrics.registry.get_sample_value
    labels = {"topic": "items", "reason": "undecodable"}
    assert sample("newsmon_bus_dead_letters_total", labels) == 2
    assert sample("newsmon_bus_dead_letters_total", {**labels, "reason": "unknown_schema"}) == 1
    assert committed(config, "items", "rules") == 5  # the poison is committed past too


async def eventually(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until ``predicate()`` is true; fail naming ``what`` after ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"not within {timeout:.0f}s: {what}")


def dead_letters(bootstrap: str, prefix: str, want: int) -> dict[bytes, dict[str, bytes]]:
    """Key -> headers of the records in ``<prefix>.dead-letter`` (reads until ``want``)."""
    dead = KafkaConsumer(
        f"{prefix}.dead-letter", bootstrap_servers=bootstrap,
        auto_offset_reset="earliest", consumer_timeout_ms=5000,
    )  # fmt: skip
    letters: dict[bytes, dict[str, bytes]] = {}
    try:
        for record in dead:
            letters[record.key] = {**dict(record.headers), "value": record.value}
            if len(letters) >= want:
                break
    finally:
        dead.close()
    return letters


def poison_published_as_a_number() -> bytes:
    envelope = json.loads(encode(item(9)))
    envelope["data"]["published"] = 1  # once an AttributeError out of decode()
    return json.dumps(envelope).encode()


async def test_records_decode_chokes_on_are_dead_lettered_and_the_consumer_lives(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Once, a record that made decode() raise other than ValueError ended the
    consumer thread for good: nothing delivered after it, nothing committed."""
    metrics = Metrics(CollectorRegistry())
    config = kafka_config(kafka_bootstrap, topic_prefix, partitions=1)  # one order for all
    async with KafkaBus(config, metrics) as bus:
        got: list[str] = []

        async def stage() -> None:
            async for message in bus.consume("items", "rules"):
                got.append(message.key)
                await message.ack()

        task = asyncio.create_task(stage())
        await bus.publish("items", "i0", item(0))
        raw = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        name, schema = f"{topic_prefix}.items", [("newsmon-schema", b"1")]
        raw.send(name, key=b"number", value=poison_published_as_a_number(), headers=schema)
        raw.send(name, key=b"nested", value=b"[" * 10_000 + b"]" * 10_000, headers=schema)
        raw.flush()
        raw.close()
        await bus.publish("items", "i1", item(1))
        await eventually(lambda: got == ["i0", "i1"], "the good records around the poison")
        await bus.publish("items", "i2", item(2))  # the consumer still consumes
        await eventually(lambda: got == ["i0", "i1", "i2"], "a record after the poison")
        assert [t.is_alive() for t in bus._consumers] == [True]
        assert await bus.ready()
        await eventually(lambda: committed(config, "items", "rules") == 5, "commit past all")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    letters = dead_letters(kafka_bootstrap, topic_prefix, 2)
    assert set(letters) == {b"number", b"nested"}
    assert {h["newsmon-error"] for h in letters.values()} == {b"undecodable"}
    assert b"published" in letters[b"number"]["newsmon-error-detail"]
    assert b"nested too deeply" in letters[b"nested"]["newsmon-error-detail"]
    assert letters[b"nested"]["value"] == b"[" * 10_000 + b"]" * 10_000  # kept as it was
    labels = {"topic": "items", "reason": "undecodable"}
    assert metrics.registry.get_sample_value("newsmon_bus_dead_letters_total", labels) == 2


async def test_the_consumer_thread_outlives_an_unexpected_error_and_readiness_shows_it(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with KafkaBus(kafka_config(kafka_bootstrap, topic_prefix)) as bus:
        failing = True

        def lag(topic: str, group: str, value: int) -> None:  # runs on the consumer thread
            if failing:
                raise RuntimeError("a bug in the lag report")

        bus._lag = lag  # type: ignore[method-assign]
        got: list[str] = []

        async def stage() -> None:
            async for message in bus.consume("items", "rules"):
                got.append(message.key)
                await message.ack()

        task = asyncio.create_task(stage())
        await bus.publish("items", "i0", item(0))
        (thread,) = bus._consumers
        await eventually(lambda: thread.error == "RuntimeError: a bug in the lag report", "error")
        assert not await bus.ready()
        await bus.publish("items", "i1", item(1))
        await eventually(lambda: sorted(got) == ["i0", "i1"], "records while the error lasts")
        failing = False
        await eventually(lambda: thread.error is None, "the error to clear")
        assert thread.is_alive() and await bus.ready()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_record_the_stage_fails_on_is_dead_lettered_counted_and_committed(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    config = kafka_config(kafka_bootstrap, topic_prefix)
    async with KafkaBus(config, metrics) as bus:
        handled: list[str] = []

        async def handle(record: Record) -> None:
            assert isinstance(record, Item)
            if record.id == "i1":
                raise KeyError("a rule engine bug")
            handled.append(record.id)

        stage = asyncio.create_task(pump(bus, ITEMS, "rules", handle))
        for n in range(3):
            await bus.publish("items", f"i{n}", item(n))
        await asyncio.wait_for(bus.drain("items"), 60)
        await eventually(lambda: committed(config, "items", "rules") == 3, "commit past all")
        stage.cancel()
        await asyncio.gather(stage, return_exceptions=True)
    assert sorted(handled) == ["i0", "i2"]
    letters = dead_letters(kafka_bootstrap, topic_prefix, 1)
    assert set(letters) == {b"i1"}
    headers = letters[b"i1"]
    assert headers["newsmon-error"] == b"handler_error"
    assert headers["newsmon-error-detail"] == b"KeyError: 'a rule engine bug'"
    assert headers["newsmon-source"].startswith(f"{topic_prefix}.items/".encode())
    kept = decode(headers["value"])  # the record as it was read, to replay later
    assert isinstance(kept, Item) and kept.id == "i1" and kept.title == "t1"
    value = metrics.registry.get_sample_value
    assert (
        value("newsmon_bus_dead_letters_total", {"topic": "items", "reason": "handler_error"}) == 1
    )


async def test_lag_counts_what_a_stalled_stage_has_not_finished_even_while_paused(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Once, lag was the fetch high watermark less what was fetched: paused
    partitions (flow control pauses a slow stage's) are not fetched, so it read 0."""
    metrics = Metrics(CollectorRegistry())
    # queue_size 100: flow control pauses after ~100 messages in flight. linger 0 and one
    # publish at a time: one record per batch, as Tansu's ListOffsets counts a batch as one
    config = kafka_config(kafka_bootstrap, topic_prefix, queue_size=100, linger=0.0)
    lag = partial(metrics.registry.get_sample_value, "newsmon_bus_consumer_lag_messages",
                  {"topic": "items", "stage": "rules"})  # fmt: skip
    async with KafkaBus(config, metrics) as bus:
        held: list[object] = []

        async def stalled() -> None:  # takes messages, never acks one
            async for message in bus.consume("items", "rules"):
                held.append(message)

        task = asyncio.create_task(stalled())
        for n in range(300):
            await bus.publish("items", f"i{n}", item(n))
        await eventually(lambda: lag() == 300, "lag 300")
        for n in range(300, 800):
            await bus.publish("items", f"i{n}", item(n))
        await eventually(lambda: lag() == 800, "lag 800")
        assert 100 <= len(held) < 800  # paused: most of the 800 were never fetched
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_two_daemons_in_one_group_track_only_what_they_can_see_acked(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Once, a daemon kept every record it published on partitions another member
    of the group held: depth only rose, and memory with it."""
    config = kafka_config(kafka_bootstrap, topic_prefix, partitions=4)
    async with KafkaBus(config) as a, KafkaBus(config) as b:
        seen: dict[str, list[str]] = {"a": [], "b": []}

        async def stage(bus: KafkaBus, who: str) -> None:
            async for message in bus.consume("items", "rules"):
                seen[who].append(message.key)
                await message.ack()

        tasks = [asyncio.create_task(stage(a, "a")), asyncio.create_task(stage(b, "b"))]

        def split() -> bool:
            threads = a._consumers + b._consumers
            held = [t.assigned for t in threads if t.assignment_known]
            return len(held) == 2 and all(held) and held[0] | held[1] == {0, 1, 2, 3}

        await eventually(split, "the group to split the partitions between the two")
        await a.publish_many("items", [(f"i{n}", item(n)) for n in range(200)])
        await eventually(lambda: len(seen["a"]) + len(seen["b"]) >= 200, "all 200 consumed")
        assert seen["a"] and seen["b"]
        assert sorted(seen["a"] + seen["b"]) == sorted(f"i{n}" for n in range(200))
        await asyncio.wait_for(a.drain("items"), 30)
        assert (a.depth("items"), b.depth("items")) == (0, 0)
        assert not a._published.pending[f"{topic_prefix}.items"]  # nothing kept: memory is bounded
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_existing_topic_with_another_retention_is_reported(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    day, week = 86_400_000, 7 * 86_400_000
    name = f"{topic_prefix}.items"
    admin = KafkaAdminClient(bootstrap_servers=[kafka_bootstrap])
    try:
        admin.create_topics([NewTopic(name, 3, 1, topic_configs={"retention.ms": str(day)})])
    finally:
        admin.close()
    problems = ensure_topics([kafka_bootstrap], [TopicSpec(name, 3, 1, week)])
    assert problems == [
        f"topic {name} has retention.ms {day} (1d), config says {week} (7d): records older"
        " than 1d are deleted, so `newsmon replay --since` reaches back no further (kept as"
        " is: raise it with kafka-configs.sh --alter --add-config retention.ms=...)"
    ]
    fresh = TopicSpec(f"{topic_prefix}.matches", 3, 1, week)
    assert ensure_topics([kafka_bootstrap], [fresh]) == []  # created with the config's
    assert ensure_topics([kafka_bootstrap], [fresh]) == []  # and then found as configured


def test_retention_comparison() -> None:
    spec = TopicSpec("p.items", 3, 1, 7 * 86_400_000)
    assert retention_problem(spec, 7 * 86_400_000) is None
    longer = retention_problem(spec, -1)
    assert longer is not None and "retention.ms -1 (forever)" in longer
    assert "deleted" not in longer and longer.endswith("(kept as is)")
    shorter = retention_problem(spec, 36 * 3_600_000)
    assert shorter is not None and "(36h)" in shorter and "deleted" in shorter
    assert duration(90_000) == "90s" and duration(1500) == "1.5s" and duration(0) == "0s"


def test_a_rejoin_that_outlasts_a_poll_still_assigns_the_partitions(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """On Apache Kafka a consumer's first join often precedes its topic's metadata: it is
    assigned nothing, then rejoins once the partitions are known. kafka-python 3.0.12 drops
    that rejoin when it outlasts a poll, and the consumer reads nothing until the next
    rebalance (a daemon's stage sat idle in 1 start of 3). 5 ms polls make every join
    outlast them; finish_dropped_join, called after each poll as the consumer thread does,
    must still bring all 3 partitions, round after round."""
    for round_no in range(5):
        topic = f"{topic_prefix}.r{round_no}"
        assert ensure_topics([kafka_bootstrap], [TopicSpec(topic, 3, 1, 3_600_000)]) == []
        config = kafka_config(kafka_bootstrap, topic_prefix)
        consumer = KafkaConsumer(**consumer_kwargs(config, topic))
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + 30
            while len(consumer.assignment()) < 3 and time.monotonic() < deadline:
                consumer.poll(timeout_ms=5)
                finish_dropped_join(consumer)
            assert {tp.partition for tp in consumer.assignment()} == {0, 1, 2}, round_no
        finally:
            consumer.close(autocommit=False)
