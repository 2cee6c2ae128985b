"""A stage consumer's bookkeeping: what it delivered, what is acked, what may be committed.

:class:`AckBook` belongs to one :class:`~monitor.bus.kafka_consumer.ConsumerThread` and
is touched only on its thread (and, mid-rebalance, on kafka-python's IO thread while the
consumer thread waits in ``poll``), except :meth:`AckBook.acked`, which the event loop
calls, and the callback of :meth:`AckBook.stored`, which the producer's thread calls:
both only append to a deque the consumer thread drains on its next turn.

* Acks may come out of order: per partition (a :class:`PartitionOffsets`), only the
  highest offset below which *every* delivered message is acked may be committed.
* A dead letter (unreadable, or one the stage could not handle) counts as acked once
  the dead-letter topic has stored it.
* A revoked partition's offsets are dropped and marked not live: acks that come for
  them later are ignored (the partition's new owner redoes those records).

:func:`unfinished` is the consumer's lag: records of the assigned partitions the stage
has not finished.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from monitor.bus.kafka_message import DeadLetter, KafkaMessage, PartitionOffsets


class AckBook:
    def __init__(self, dead_letter: DeadLetter) -> None:
        self.offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._dead_letter = dead_letter
        self._acks: deque[KafkaMessage] = deque()
        self._done: deque[tuple[PartitionOffsets, int]] = deque()  # dead letters stored
        self._dead_in_flight = 0  # dead letters handed over, not yet stored

    def acked(self, message: KafkaMessage) -> None:
        """Called on the event loop; applied by :meth:`apply` on the thread's next turn."""
        self._acks.append(message)

    def partition(self, tp: TopicPartition) -> PartitionOffsets:
        return self.offsets.setdefault(tp, PartitionOffsets())

    def stored(self, offsets: PartitionOffsets, offset: int) -> Callable[[], None]:
        """The callback the dead-letter sender calls (on the producer's thread) once
        the record is stored; closing waits (bounded) for those in flight."""
        self._dead_in_flight += 1
        return lambda: self._done.append((offsets, offset))

    def dead_letters_in_flight(self) -> bool:
        return self._dead_in_flight > len(self._done)

    def apply(self) -> None:
        """Apply the acks and dead letters stored since the last call; send the dead
        letters the stage asked for."""
        while self._done:
            offsets, offset = self._done.popleft()
            self._dead_in_flight -= 1
            offsets.ack(offset)
        while self._acks:
            message = self._acks.popleft()
            if not message._offsets.live:  # from a revoked assignment: its new owner redoes it
                continue
            if message.dead is None:
                message._offsets.ack(message.offset)
            else:
                reason, detail = message.dead
                done = self.stored(message._offsets, message.offset)
                self._dead_letter(message._record, reason, detail, done)

    def committable(
        self, partitions: frozenset[TopicPartition] | None = None
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """What may be committed and is not yet (of ``partitions``; None: all)."""
        return {
            tp: OffsetAndMetadata(po.committable, "", -1)
            for tp, po in self.offsets.items()
            if po.committable is not None and po.committable != po.committed
            and (partitions is None or tp in partitions)
        }  # fmt: skip

    def committed(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        for tp, meta in offsets.items():
            self.offsets[tp].committed = meta.offset

    def in_flight(self) -> int:
        """Messages delivered and not yet acked."""
        return sum(len(po.delivered) for po in self.offsets.values())

    def drop(self, partitions: frozenset[TopicPartition] | None = None) -> None:
        """Forget ``partitions`` (None: all): their late acks are ignored."""
        for tp in list(self.offsets) if partitions is None else partitions:
            if (gone := self.offsets.pop(tp, None)) is not None:
                gone.live = False


def unfinished(consumer: Any, book: AckBook) -> int:
    """Records of the assigned partitions the stage has not finished: the end offset less
    where the stage would resume (the first delivered offset not yet acked, else the
    position). Ends are asked of the broker (a paused partition's fetch high watermark is
    frozen); the high watermark is a floor, for brokers whose ListOffsets answer lags
    behind (Tansu, batched records)."""
    assigned = list(consumer.assignment())
    ends = consumer.end_offsets(assigned, timeout_ms=2000) if assigned else {}
    deadline, lag = time.monotonic() + 1.0, 0  # bounds the waits for positions
    for tp in assigned:
        end = max(ends.get(tp) or 0, consumer.highwater(tp) or 0)
        po = book.offsets.get(tp)
        if po is not None and po.delivered:
            done: int | None = po.delivered[0]
        else:  # all delivered is acked, or nothing fetched yet: where fetching resumes
            wait = max(0, int((deadline - time.monotonic()) * 1000))
            done = consumer.position(tp, timeout_ms=wait)
        if done is not None:
            lag += max(0, end - done)
    return lag
