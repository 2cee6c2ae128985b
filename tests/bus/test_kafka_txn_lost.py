"""A transactional producer made again after a loss commits over its owner's view only
if nobody else wrote the changelog meanwhile (Apache Kafka).

The race: an owner's producer is lost (its sender gone, a commit that timed out); while
the broker did not answer, the partition went to another daemon, which fenced the id,
rebuilt its view and committed. The first owner's revocation has not run yet, so its
writer tries the same records again through a new producer, whose
``init_transactions`` fences the new owner in turn. Committing then would write over a
view that lacks the new owner's changes (an alert it sent, still pending here): the
commit is refused as a fence, and the owner rebuilds from the changelog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka_broker import external, wanted_kind

from monitor.bus.kafka_txn import Fenced, Out, TxnProducer, committed_since, read_changelog
from monitor.bus.kafka_txn_state import unhealthy

ON_TANSU = external() is None and wanted_kind() == "tansu"
pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(ON_TANSU, reason="Tansu keeps no transactions' fences"),
]


@pytest.fixture
def changelog(kafka_bootstrap: str, topic_prefix: str) -> Iterator[TopicPartition]:
    topic = f"{topic_prefix}.deliveries"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    yield TopicPartition(topic, 0)


def owner(bootstrap: str, tp: TopicPartition) -> TxnProducer:
    """An owner's producer for ``tp``, opened as a rebuild opens it."""
    txn = TxnProducer({"bootstrap_servers": [bootstrap]}, f"{tp.topic}.txn.0", [tp],
                      changelog=tp)  # fmt: skip
    txn.open()
    return txn


def record(tp: TopicPartition, key: bytes, value: bytes) -> Out:
    return Out(tp.topic, key, value, tp.partition)


def lose(txn: TxnProducer) -> None:
    """Stop the producer's sender thread, as an outage can leave it: unhealthy."""
    sender = txn._producer._sender
    sender.initiate_close()
    sender.join(10)
    assert unhealthy(txn._producer) == "its sender thread is gone"


def state(bootstrap: str, tp: TopicPartition) -> dict[bytes, bytes]:
    return read_changelog({"bootstrap_servers": [bootstrap]}, tp.topic, tp.partition)


def test_made_again_after_a_loss_it_commits_when_nobody_wrote_meanwhile(
    kafka_bootstrap: str, changelog: TopicPartition
) -> None:
    first = owner(kafka_bootstrap, changelog)
    try:
        first.commit([record(changelog, b"alert-1", b"pending")])
        first.commit([record(changelog, b"alert-1", b"sent")])
        lose(first)
        first.commit([record(changelog, b"alert-2", b"pending")])  # a new producer, the view fine
        first.commit([record(changelog, b"alert-3", b"pending")])
    finally:
        first.close()
    assert state(kafka_bootstrap, changelog) == {b"alert-1": b"sent", b"alert-2": b"pending",
                                                 b"alert-3": b"pending"}  # fmt: skip


def test_made_again_after_a_loss_it_refuses_to_commit_over_another_owners_writes(
    kafka_bootstrap: str, changelog: TopicPartition
) -> None:
    first = owner(kafka_bootstrap, changelog)
    second: TxnProducer | None = None
    try:
        first.commit([record(changelog, b"alert-1", b"pending")])
        lose(first)
        second = owner(kafka_bootstrap, changelog)  # the partition moved: a takeover
        second.commit([record(changelog, b"alert-1", b"sent")])  # the new owner sent it
        with pytest.raises(Fenced, match=r"1 record\(s\) committed to .* since this producer"):
            first.commit([record(changelog, b"alert-1", b"attempting")])  # a stale view
        # nothing of the stale view reached the changelog
        assert state(kafka_bootstrap, changelog) == {b"alert-1": b"sent"}
        # its init_transactions fenced the new owner, which rebuilds and goes on
        with pytest.raises(Fenced):
            second.commit([record(changelog, b"alert-2", b"pending")])
        second.open()
        second.commit([record(changelog, b"alert-2", b"pending")])
    finally:
        first.close()
        if second is not None:
            second.close()
    assert state(kafka_bootstrap, changelog) == {b"alert-1": b"sent", b"alert-2": b"pending"}


def test_committed_since_counts_only_committed_records(
    kafka_bootstrap: str, changelog: TopicPartition
) -> None:
    first = owner(kafka_bootstrap, changelog)
    try:
        first.commit([record(changelog, b"a", b"1"), record(changelog, b"b", b"1")])
        kafka = {"bootstrap_servers": [kafka_bootstrap]}
        assert committed_since(kafka, changelog, 0) == 2
        assert committed_since(kafka, changelog, 2) == 0  # the commit marker is no record
        aborted = KafkaProducer(bootstrap_servers=kafka_bootstrap,
                                transactional_id=f"{changelog.topic}.other")  # fmt: skip
        try:
            aborted.init_transactions()
            aborted.begin_transaction()
            aborted.send(changelog.topic, key=b"x", value=b"1", partition=0).get(30)
            aborted.abort_transaction()
        finally:
            aborted.close(timeout=0)
        assert committed_since(kafka, changelog, 3) == 0  # an aborted record is none
        first.commit([record(changelog, b"c", b"1")])
        assert committed_since(kafka, changelog, 3) == 1
    finally:
        first.close()
