"""abort_hanging on Apache Kafka: an open transaction whose producer may still commit
is left alone; one whose epoch is fenced (what a broker restart leaves behind once the
owner's producer is initialised again) is aborted, and the partition's last stable
offset moves past it, so read_committed readers go on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka_broker import external, wanted_kind

from monitor.bus.kafka_hanging import abort_hanging
from monitor.bus.kafka_txn import read_changelog

ON_TANSU = external() is None and wanted_kind() == "tansu"
pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(ON_TANSU, reason="Tansu has no DescribeProducers nor WriteTxnMarkers"),
]
Opened = tuple[TopicPartition, KafkaProducer]


def stable_end(bootstrap: str, tp: TopicPartition) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    try:
        return int(consumer.end_offsets([tp])[tp])
    finally:
        consumer.close(autocommit=False)


@pytest.fixture
def open_transaction(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Opened]:
    """A record written to ``<prefix>.log`` in a transaction left open."""
    topic = f"{topic_prefix}.log"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    plain = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    plain.send(topic, key=b"before", value=b"committed").get(30)
    plain.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap,
                             transactional_id=f"{topic_prefix}.stories.0")  # fmt: skip
    producer.init_transactions()
    producer.begin_transaction()  # one committed first: the partition holds its marker's
    producer.send(topic, key=b"earlier", value=b"committed").get(30)  # coordinator epoch
    producer.commit_transaction()
    producer.begin_transaction()
    producer.send(topic, key=b"open", value=b"never committed").get(30)
    try:
        yield TopicPartition(topic, 0), producer
    finally:
        producer.close(timeout=0)


def test_a_transaction_its_producer_may_still_commit_is_left_alone(
    kafka_bootstrap: str, open_transaction: Opened
) -> None:
    tp, producer = open_transaction
    assert stable_end(kafka_bootstrap, tp) == 3  # read_committed stops at the open one
    assert abort_hanging({"bootstrap_servers": [kafka_bootstrap]}, [tp]) == []
    producer.commit_transaction()
    state = read_changelog({"bootstrap_servers": [kafka_bootstrap]}, tp.topic, 0)
    assert state == {b"before": b"committed", b"earlier": b"committed",
                     b"open": b"never committed"}  # fmt: skip


def test_a_transaction_of_a_fenced_epoch_is_aborted_and_readers_go_on(
    kafka_bootstrap: str, open_transaction: Opened
) -> None:
    tp, producer = open_transaction
    ident = producer._transaction_manager.producer_id_and_epoch
    assert stable_end(kafka_bootstrap, tp) == 3
    # as after a restart that lost the coordinator's record: this daemon's producer holds
    # the next epoch, the partition still has the old one's transaction open
    found = abort_hanging({"bootstrap_servers": [kafka_bootstrap]}, [tp],
                          current={ident.producer_id: ident.epoch + 1})  # fmt: skip
    assert [(h.partition, h.producer_id, h.producer_epoch, h.start_offset) for h in found] == [
        (tp, ident.producer_id, ident.epoch, 3)
    ]
    assert stable_end(kafka_bootstrap, tp) == 5  # the open record and the abort marker
    state = read_changelog({"bootstrap_servers": [kafka_bootstrap]}, tp.topic, 0)
    assert state == {b"before": b"committed", b"earlier": b"committed"}  # the open one aborted
