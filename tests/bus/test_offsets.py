"""Which offset may be committed when acks come out of order (pure, no broker)."""

from __future__ import annotations

from monitor.bus.kafka_consumer import PartitionOffsets


def test_commit_point_never_passes_an_unacked_offset() -> None:
    po = PartitionOffsets()
    po.delivered.extend([10, 11, 12, 13])
    po.ack(11)
    po.ack(13)
    assert po.committable is None  # 10 is still being processed
    po.ack(10)
    assert po.committable == 12  # 10 and 11 are done, 12 is not
    po.ack(12)
    assert po.committable == 14
    assert not po.delivered and not po.acked


def test_in_order_acks_advance_one_by_one() -> None:
    po = PartitionOffsets()
    po.delivered.extend(range(5))
    for offset in range(5):
        po.ack(offset)
        assert po.committable == offset + 1
