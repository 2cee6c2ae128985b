"""The Kafka bus against a real Kafka-protocol broker (Tansu, or KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from monitor.bus.kafka import KafkaBus, consumer_kwargs
from monitor.config import BusConfig
from monitor.metrics import Metrics
from monitor.model import Item

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
