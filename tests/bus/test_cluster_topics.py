"""The cluster roles' own topics (stories, outbox, deliveries, silences) are checked by
the bus as its own are: a partition count other than ``bus.partitions``, found at start
or after the daemon started (the broker's reconnect or the periodic re-check), is an
error, ``newsmon_cluster_topic_mismatch{topic}`` 1 and the bus not ready."""

from __future__ import annotations

import asyncio

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry
from test_kafka import kafka_config

from monitor.bus.kafka import KafkaBus
from monitor.cluster import delivery_role, stories_role
from monitor.metrics import Metrics

pytestmark = pytest.mark.kafka


def mismatch(metrics: Metrics, topic: str) -> float | None:
    return metrics.registry.get_sample_value("newsmon_cluster_topic_mismatch", {"topic": topic})


def admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=[bootstrap], client_id="newsmon-test")


async def test_a_roles_topic_found_with_another_count_keeps_the_role_stopped(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    client = admin(kafka_bootstrap)
    try:  # made by hand, or by a daemon with another bus.partitions
        client.create_topics([NewTopic(f"{topic_prefix}.deliveries", 2, 1)])
    finally:
        client.close()
    metrics = Metrics(CollectorRegistry())
    async with KafkaBus(kafka_config(kafka_bootstrap, topic_prefix), metrics) as bus:
        assert await bus.ready()
        assert await stories_role.check_topics(bus, stories_role.topics(bus))  # all as configured
        assert mismatch(metrics, "stories") == 0
        assert not await stories_role.check_topics(bus, delivery_role.topics(bus))
        assert mismatch(metrics, "deliveries") == 1
        assert mismatch(metrics, "silences") == 0
        assert not await bus.ready()
        problems = bus.topic_problems()
        assert any(f"{topic_prefix}.deliveries has 2 partitions" in p for p in problems), problems


async def test_a_roles_topic_whose_count_changes_later_turns_the_bus_not_ready(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    async with KafkaBus(kafka_config(kafka_bootstrap, topic_prefix), metrics) as bus:
        assert await stories_role.check_topics(bus, stories_role.topics(bus))
        assert await bus.ready()
        assert mismatch(metrics, "stories") == 0
        client = admin(kafka_bootstrap)
        try:  # someone "scales" the changelog: its keys now land elsewhere
            client.create_partitions({f"{topic_prefix}.stories": 4})
        finally:
            client.close()
        async with asyncio.timeout(90):  # the bus re-checks every 15 s and on reconnect
            while await bus.ready():
                await asyncio.sleep(0.2)
        assert mismatch(metrics, "stories") == 1
        assert mismatch(metrics, "outbox") == 0
        problems = bus.topic_problems()
        assert any(f"{topic_prefix}.stories has 4 partitions" in p for p in problems), problems
