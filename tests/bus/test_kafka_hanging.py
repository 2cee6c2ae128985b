"""Which open transactions are hanging (no producer can end them) and are aborted, and
which are left to their producer (unit tests: the admin client replaced by a stand-in
answering as Apache Kafka does; the restart tests in test_kafka_outage_restart.py are
the proof on a real broker)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition
from kafka.admin import (
    PartitionProducerState,
    ProducerState,
    TransactionDescription,
    TransactionListing,
    TransactionState,
)

from monitor.bus import kafka_hanging
from monitor.bus.kafka_hanging import abort_hanging, find_hanging, group_partition

OFFSETS = TopicPartition("__consumer_offsets", 0)
CHANGELOG = TopicPartition("p.deliveries", 2)


def producer(pid: int, epoch: int, start: int = -1) -> ProducerState:
    return ProducerState(pid, epoch, 0, 0, 2, start)  # coordinator epoch 2


class Admin:
    """What abort_hanging asks of kafka-python's KafkaAdminClient."""

    def __init__(self, producers: dict[TopicPartition, list[ProducerState]],
                 coordinator: dict[str, tuple[int, int, TransactionState]]) -> None:  # fmt: skip
        self.producers, self.coordinator = producers, coordinator  # txn id -> pid, epoch
        self.aborted: list[Any] = []
        self.closed = False

    def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [{"topic": topics[0], "partitions": [{"partition": i} for i in range(3)]}]

    def describe_producers(self, tps: list[TopicPartition]) -> dict[Any, Any]:
        return {tp: PartitionProducerState(self.producers.get(tp, [])) for tp in tps}

    def list_transactions(self, producer_id_filters: list[int]) -> dict[int, list[Any]]:
        return {1: [TransactionListing(tid, pid, state)
                    for tid, (pid, _, state) in self.coordinator.items()
                    if pid in producer_id_filters]}  # fmt: skip

    def describe_transactions(self, ids: list[str]) -> dict[str, TransactionDescription]:
        return {tid: TransactionDescription(1, self.coordinator[tid][2], self.coordinator[tid][0],
                                            self.coordinator[tid][1], 20_000, -1, set())
                for tid in ids}  # fmt: skip

    def abort_transaction(self, spec: Any) -> None:
        self.aborted.append(spec)

    def close(self) -> None:
        self.closed = True


def test_the_groups_offsets_partition_is_the_one_kafka_computes() -> None:
    # Java: "hello".hashCode() == 99162322; "polygenelubricants".hashCode() == MIN_VALUE
    assert group_partition("hello", 50) == 99162322 % 50
    assert group_partition("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) is 0
    assert group_partition("Aa", 7) == group_partition("BB", 7) == 2112 % 7
    assert group_partition("", 3) == 0


def test_an_open_transaction_of_a_fenced_epoch_is_aborted_a_live_one_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = Admin(
        {OFFSETS: [producer(6, 0, 37), producer(2, 3, 40), producer(9, 1)],
         CHANGELOG: [producer(5, 1, 12)]},
        {"g.delivery.2": (6, 1, TransactionState.COMPLETE_COMMIT),  # re-initialised since
         "g.stories.0": (2, 3, TransactionState.ONGOING),  # its producer may still commit
         "g.stories.1": (5, 1, TransactionState.ONGOING)},
    )  # fmt: skip
    monkeypatch.setattr(kafka_hanging, "KafkaAdminClient", lambda **_: admin)
    found = abort_hanging({"bootstrap_servers": ["127.0.0.1:9"]}, [CHANGELOG], ["g.delivery"])
    assert [(h.partition, h.producer_id, h.producer_epoch, h.start_offset) for h in found] == [
        (OFFSETS, 6, 0, 37)
    ]
    assert [tuple(s) for s in admin.aborted] == [(OFFSETS, 6, 0, 2)]  # the partition's epoch
    assert admin.closed


def test_this_daemons_own_epoch_decides_without_asking_the_coordinator() -> None:
    admin = Admin({CHANGELOG: [producer(6, 0, 5)]}, {})  # the coordinator not asked
    found = find_hanging(admin, [CHANGELOG], {6: 1})
    assert [(h.producer_id, h.producer_epoch) for h in found] == [(6, 0)]
    assert "fenced" in found[0].why
    assert find_hanging(admin, [CHANGELOG], {6: 0}) == []  # the same epoch: ours, live


def test_a_producer_id_no_transactional_id_holds_any_more_is_hanging() -> None:
    admin = Admin({CHANGELOG: [producer(11, 4, 8)]},
                  {"g.stories.2": (12, 0, TransactionState.EMPTY)})  # fmt: skip
    found = find_hanging(admin, [CHANGELOG], {})
    assert [(h.producer_id, h.why) for h in found] == [
        (11, "its producer id is no transactional id's any more")
    ]


def test_an_admin_client_that_cannot_connect_is_a_bus_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kafka.errors import KafkaConnectionError

    from monitor.errors import BusError

    def refuse(**_: Any) -> Admin:
        raise KafkaConnectionError("111 ECONNREFUSED")

    monkeypatch.setattr(kafka_hanging, "KafkaAdminClient", refuse)
    with pytest.raises(BusError, match="hanging transactions"):
        abort_hanging({"bootstrap_servers": ["127.0.0.1:9"]}, [CHANGELOG])
