"""A zombie's transactions go nowhere: another producer with the partition's
transactional id (what a new owner opens) fences the daemon's; its open transaction is
aborted, it drops its view, rebuilds it from Kafka, fences the intruder back and goes
on: every story still alerts exactly once per receiver."""

from __future__ import annotations

import asyncio
from pathlib import Path

from feedserver import FeedServer
from kafka import KafkaProducer
from support.daemon import until
from test_cluster_stories import PARTITIONS, PHASES, STORIES, duplicates, metric, port_of, scenario

from monitor.bus.kafka_txn import partition_for


def fence(bootstrap: str, transactional_id: str) -> None:
    """What a new owner of the partition does first: ``init_transactions``."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=transactional_id)
    try:
        producer.init_transactions()
    finally:
        producer.close()


async def test_a_fenced_owner_rebuilds_and_alerts_each_story_once(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix) as s:
        daemon = await s.start(0)
        hook = s.hooks[0]
        desk = partition_for(b"defence", PARTITIONS)
        receiver = partition_for(hook.encode(), PARTITIONS)

        async def fence_between(phase: int) -> None:
            if phase == 2:  # the desk's stories partition, mid-run
                await asyncio.to_thread(fence, kafka_bootstrap, f"{topic_prefix}.stories.{desk}")
            if phase == 3:  # the receiver's delivery partition
                await asyncio.to_thread(fence, kafka_bootstrap,
                                        f"{topic_prefix}.delivery.{receiver}")  # fmt: skip

        await s.run_phases(range(1, PHASES + 1), fence_between)
        await until(s.everything_posted, "every story posted to every receiver", 120)
        await until(lambda: "deliveries_fenced" in daemon.log(), "the delivery fence seen", 60)
        aborts = await metric(port_of(daemon), "newsmon_cluster_transaction_aborts_total")
        await s.stop_all()
        log = daemon.log()
        assert "stories_aborted" in log and "rebuilt role=stories" in log
        assert "rebuilt role=delivery" in log
        assert aborts >= 1
        for receiver_name, alerts in s.posted().items():
            assert len(alerts) == STORIES, receiver_name
        assert duplicates([a for _, a, _ in s.receivers.got]) == {}
        assert duplicates(s.file_alerts()) == {}
