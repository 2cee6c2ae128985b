"""The group consumer of the cluster roles (blocking: runs on its own thread).

* :class:`GroupLoop`: a consumer thread in a group (``read_committed``, no auto commit)
  that tells its role which partitions it was assigned and revoked, and hands it the
  records of each partition.
* :class:`Role`: what a loop drives (the feeds, stories and delivery roles of
  ``monitor.cluster``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from typing import Any, Protocol

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.bus.kafka_member import Listener, finish_dropped_join
from monitor.errors import BusError

log = logging.getLogger(__name__)

REBUILD_AFTER = 8  # consecutive failed turns before the consumer is closed and made again
LEAVE_WAIT = 30.0  # seconds leaving a group may take (its revocation handing over)


class Role(Protocol):
    """What a :class:`GroupLoop` drives. ``assigned`` and ``revoked`` run on kafka-python's
    IO thread while the loop's thread waits in ``poll``; the rest on the loop's thread."""

    def assigned(self, partitions: frozenset[int]) -> None: ...
    def revoked(self, partitions: frozenset[int]) -> None: ...
    def turn(self, loop: GroupLoop) -> None: ...
    def handle(self, loop: GroupLoop, partition: int, records: list[Any]) -> None: ...


class GroupLoop(threading.Thread):
    """Consumes ``topic`` as a member of a group for ``role``, until stopped."""

    def __init__(self, name: str, topic: str, kafka: dict[str, Any], role: Role) -> None:
        super().__init__(name=f"newsmon-{name}", daemon=True)
        self.topic = topic
        self.kafka = {**kafka, "isolation_level": "read_committed", "enable_auto_commit": False}
        self.role = role
        self.consumer: Any = None
        self.error: str | None = None
        self.positions: dict[int, int] = {}  # partition -> next offset, once handled
        self.stop_at = math.inf  # monotonic: leaving the group waits no longer than this
        self._stopping = threading.Event()

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    def stop(self, deadline: float = math.inf) -> None:
        """Stop after the turn under way; leaving the group waits until ``deadline``
        (monotonic) at most."""
        self.stop_at = min(self.stop_at, deadline)
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def stop_event(self) -> threading.Event:
        """Set once stopping: what a long call of the role (a changelog read) watches."""
        return self._stopping

    def left(self) -> float:
        """Seconds left before the stop's deadline (inf while not stopping)."""
        return max(0.0, self.stop_at - time.monotonic())

    def caught_up(self, ends: dict[int, int]) -> bool:
        """Whether every partition held now was handled up to its offset in ``ends``."""
        held = set(self.positions)
        return all(self.positions.get(p, -1) >= end for p, end in ends.items() if p in held)

    def run(self) -> None:
        delay, failures = 0.2, 0
        while not self._stopping.is_set():
            try:
                self._turn()
                failures, delay = 0, 0.2
            except Exception as exc:  # a client fault or a bug: logged once, retried
                text = f"{type(exc).__name__}: {exc}"
                if text != self.error:
                    log.warning("consume_error topic=%s error=%s", self.topic, text,
                                exc_info=not isinstance(exc, KafkaError | BusError))  # fmt: skip
                self.error, failures = text, failures + 1
                if failures % REBUILD_AFTER == 0:  # a client in a state it does not leave
                    log.warning("consumer_rebuilt topic=%s after=%d errors", self.topic, failures)
                    self._close()
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)
        self._close()

    def _turn(self) -> None:
        if self.consumer is None:
            self.consumer = KafkaConsumer(**self.kafka)
            self.consumer.subscribe([self.topic], listener=self._listener())
            self.consumer.partitions_for_topic(self.topic)  # see kafka_member.py
        self.role.turn(self)
        records = self.consumer.poll(timeout_ms=200, max_records=500)
        finish_dropped_join(self.consumer)
        for tp, recs in records.items():
            self.role.handle(self, tp.partition, recs)
        self._positions()
        if self.error is not None:
            log.info("consume_recovered topic=%s", self.topic)
            self.error = None

    def _listener(self) -> Listener:
        role = self.role
        return Listener(revoked=lambda tps: role.revoked(_partitions(tps)),
                        assigned=lambda tps: role.assigned(_partitions(tps)))  # fmt: skip

    def _positions(self) -> None:
        """Where each partition held stands (its records before that handled)."""
        positions = {}
        for tp in self.consumer.assignment():
            with contextlib.suppress(KafkaError):
                if (at := self.consumer.position(tp, timeout_ms=100)) is not None:
                    positions[tp.partition] = int(at)
        self.positions = positions

    def _close(self) -> None:
        """Leave the group: the role is told its partitions are revoked (and hands off)."""
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            wait = min(self.left(), LEAVE_WAIT)
            try:
                consumer.close(autocommit=False, timeout_ms=int(wait * 1000))
            except Exception as exc:
                log.warning("consumer_close_failed topic=%s error=%s", self.topic, exc)


def _partitions(tps: frozenset[TopicPartition]) -> frozenset[int]:
    return frozenset(tp.partition for tp in tps)
