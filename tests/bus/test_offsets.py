"""Which offset may be committed when acks come out of order, and the kafka-python
rejoin workaround (pure, no broker)."""

from __future__ import annotations

from monitor.bus.kafka_consumer import finish_dropped_join
from monitor.bus.kafka_message import PartitionOffsets


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


class _Coordinator:
    """kafka-python's group coordinator, as far as finish_dropped_join looks at it."""

    def __init__(self, join_task: object, need_rejoin: bool) -> None:
        self._join_task = join_task
        self._need_rejoin = need_rejoin
        self.rejoin_requested = False

    def need_rejoin(self) -> bool:
        return self._need_rejoin

    def request_rejoin(self) -> None:
        self.rejoin_requested = True


class _Consumer:
    def __init__(self, coordinator: _Coordinator | None) -> None:
        self._coordinator = coordinator


def test_a_join_left_in_flight_with_no_rejoin_pending_is_asked_for_again() -> None:
    dropped = _Coordinator(join_task=object(), need_rejoin=False)  # the lost rejoin
    finish_dropped_join(_Consumer(dropped))
    assert dropped.rejoin_requested


def test_a_join_the_next_poll_awaits_anyway_or_no_join_is_left_alone() -> None:
    for coordinator in (
        _Coordinator(join_task=object(), need_rejoin=True),  # the next poll awaits it
        _Coordinator(join_task=None, need_rejoin=False),  # joined: nothing in flight
    ):
        finish_dropped_join(_Consumer(coordinator))
        assert not coordinator.rejoin_requested
    finish_dropped_join(_Consumer(None))  # a client without a coordinator: nothing to do
