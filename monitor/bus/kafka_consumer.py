"""The Kafka consumer side of the bus: one thread per (topic, stage group).

kafka-python's ``KafkaConsumer`` is blocking and not thread-safe, so each
``consume()`` owns one :class:`ConsumerThread` that alone touches its consumer:
it polls, decodes, hands batches of messages to the event loop, and commits.

Offsets (at-least-once):

* ``enable_auto_commit=False``. A stage acks a message once its own output is
  durable; the ack is queued to the thread, which commits, per partition, only
  the highest offset below which *every* delivered message is acked (acks may
  come out of order). Commits are batched (``commit_interval``), forced on
  partition revocation (a :class:`ConsumerRebalanceListener`) and on close.
* Flow control: when ``max_in_flight`` messages are delivered but not acked,
  the thread pauses its partitions and keeps polling, so a slow stage (a sink
  honouring Retry-After) never makes the consumer miss ``max_poll_interval``.
* A record that is not a readable envelope (not JSON, unknown type or schema
  version) is handed to ``dead_letter`` and counts as processed once the
  dead-letter topic has it; it never stops the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from monitor.model import SCHEMA_VERSION, Record, decode

log = logging.getLogger(__name__)

SCHEMA_HEADER = "newsmon-schema"
DEAD_LETTER_REASONS = ("undecodable", "unknown_schema")  # what classify() may answer
ORIGIN_HEADER = "newsmon-origin"


class PartitionOffsets:
    """Offsets of one partition delivered to the stage, and how far all are acked."""

    __slots__ = ("acked", "committable", "committed", "delivered", "live")

    def __init__(self) -> None:
        self.live = True  # False once the partition is revoked: late acks are ignored
        self.delivered: deque[int] = deque()
        self.acked: set[int] = set()
        self.committable: int | None = None  # next offset to read after a restart
        self.committed: int | None = None

    def ack(self, offset: int) -> None:
        delivered, acked = self.delivered, self.acked
        if not delivered or delivered[0] != offset:
            acked.add(offset)  # out of order: wait for the ones before it
            return
        delivered.popleft()
        self.committable = offset + 1
        while acked and delivered and delivered[0] in acked:
            done = delivered.popleft()
            acked.discard(done)
            self.committable = done + 1


class KafkaMessage:
    __slots__ = ("_acked", "_offsets", "_on_ack", "key", "offset", "origin", "partition", "value")

    def __init__(
        self, key: str, value: Record, partition: int, offset: int, origin: bytes | None,
        offsets: PartitionOffsets, on_ack: Callable[[KafkaMessage], None],
    ) -> None:  # fmt: skip
        self.key = key
        self.value = value
        self.partition = partition
        self.offset = offset
        self.origin = origin
        self._offsets = offsets
        self._on_ack = on_ack
        self._acked = False

    async def ack(self) -> None:
        if not self._acked:
            self._acked = True
            self._on_ack(self)


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    kafka: dict[str, Any]  # KafkaConsumer keyword arguments (servers, group, timeouts)
    commit_interval: float
    max_in_flight: int = 2000
    max_records: int = 500


DeadLetter = Callable[[Any, str, str, Callable[[], None]], None]  # record, reason, detail, done


def classify(record: Any, headers: dict[str, bytes]) -> tuple[Record | None, str, str]:
    """The record's value, or None with a bounded reason code and the detail."""
    version = headers.get(SCHEMA_HEADER)
    if version is not None and version != str(SCHEMA_VERSION).encode():
        return None, "unknown_schema", f"schema header {version!r}"
    if record.value is None:
        return None, "undecodable", "empty value"
    try:
        return decode(record.value), "", ""
    except ValueError as exc:
        detail = str(exc)
        reason = "unknown_schema" if detail.startswith("unknown") else "undecodable"
        return None, reason, detail


class ConsumerThread(threading.Thread):
    def __init__(
        self, topic: str, settings: ConsumerSettings, loop: asyncio.AbstractEventLoop,
        deliver: Callable[[list[KafkaMessage]], None], on_ack: Callable[[KafkaMessage], None],
        dead_letter: DeadLetter, on_lag: Callable[[int], None],
    ) -> None:  # fmt: skip
        super().__init__(name=f"newsmon-consume-{topic}", daemon=True)
        self.topic = topic
        self.settings = settings
        self.assigned: frozenset[int] = frozenset()
        self.assignment_known = False
        self.error: str | None = None
        self._loop, self._deliver, self._on_ack = loop, deliver, on_ack
        self._dead_letter, self._on_lag = dead_letter, on_lag
        self._acks: deque[KafkaMessage] = deque()
        self._done: deque[tuple[PartitionOffsets, int]] = deque()  # dead letters stored
        self._dead_in_flight = 0  # dead letters handed over, not yet stored
        self._offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._fetched: dict[TopicPartition, int] = {}
        self._stopping = threading.Event()
        self._consumer: Any = None
        self._paused = False
        self._commit_failing = False
        self._last_commit = self._last_lag = time.monotonic()

    def acked(self, message: KafkaMessage) -> None:
        """Called on the event loop; the thread applies it on its next turn."""
        self._acks.append(message)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set() and self._consumer is None:
            try:
                self._consumer = KafkaConsumer(**self.settings.kafka)
                self._consumer.subscribe([self.topic], listener=_Listener(self))
            except KafkaError as exc:
                self._failing(exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, 10.0)
        try:
            while not self._stopping.is_set():
                self._step()
        finally:
            self._close()

    def _step(self) -> None:
        try:
            self._apply_acks()
            if time.monotonic() - self._last_commit >= self.settings.commit_interval:
                self._commit()
        except KafkaError as exc:
            # e.g. CommitFailedError after the group moved on while the broker was
            # away: keep polling, which rejoins the group; what was not committed
            # is delivered again (at-least-once; dedup and the outbox absorb it)
            self._failing(exc)
        try:
            self._flow_control()
            records = self._consumer.poll(timeout_ms=200, max_records=self.settings.max_records)
        except KafkaError as exc:
            self._failing(exc)
            self._stopping.wait(1.0)
            return
        if self.error is not None and not self._commit_failing:
            log.info("consume_recovered topic=%s", self.topic)
            self.error = None
        batch = self._read(records)
        if batch:
            self._loop.call_soon_threadsafe(self._deliver, batch)
        self._report_lag()

    def _read(self, records: dict[TopicPartition, list[Any]]) -> list[KafkaMessage]:
        batch: list[KafkaMessage] = []
        add, on_ack = batch.append, self._on_ack  # the per-record loop is the hot path
        for tp, recs in records.items():
            offsets = self._offsets.setdefault(tp, PartitionOffsets())
            delivered, partition = offsets.delivered.append, tp.partition
            for record in recs:
                delivered(record.offset)
                headers = dict(record.headers) if record.headers else {}
                value, reason, detail = classify(record, headers)
                if value is None:
                    self._dead_letter(record, reason, detail, self._stored(offsets, record.offset))
                    continue
                key = record.key.decode("utf-8", "replace") if record.key else ""
                add(KafkaMessage(key, value, partition, record.offset,
                                 headers.get(ORIGIN_HEADER), offsets, on_ack))  # fmt: skip
            if recs:
                self._fetched[tp] = recs[-1].offset + 1
        return batch

    def _stored(self, offsets: PartitionOffsets, offset: int) -> Callable[[], None]:
        """The callback the dead-letter sender calls (on the producer's thread) once
        the record is stored; ``_close`` waits (bounded) for those in flight."""
        self._dead_in_flight += 1
        return lambda: self._done.append((offsets, offset))

    def _apply_acks(self) -> None:
        while self._done:
            offsets, offset = self._done.popleft()
            self._dead_in_flight -= 1
            offsets.ack(offset)
        while self._acks:
            message = self._acks.popleft()
            if message._offsets.live:  # not from a revoked assignment
                message._offsets.ack(message.offset)

    def commit(self) -> None:
        self._apply_acks()
        self._commit()

    def _commit(self) -> None:
        self._last_commit = time.monotonic()
        if not (offsets := self._committable()):
            self._commit_failing = False
            return
        self._commit_failing = True
        self._consumer.commit(offsets)
        self._commit_failing = False
        for tp, meta in offsets.items():
            self._offsets[tp].committed = meta.offset

    def _committable(
        self, partitions: frozenset[TopicPartition] | None = None
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        return {
            tp: OffsetAndMetadata(po.committable, "", -1)
            for tp, po in self._offsets.items()
            if po.committable is not None and po.committable != po.committed
            and (partitions is None or tp in partitions)
        }  # fmt: skip

    def _flow_control(self) -> None:
        in_flight = sum(len(po.delivered) for po in self._offsets.values())
        limit = self.settings.max_in_flight
        if not self._paused and in_flight >= limit:
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
        elif self._paused and in_flight < limit // 2:
            self._consumer.resume(*self._consumer.paused())
            self._paused = False

    def _report_lag(self) -> None:
        if time.monotonic() - self._last_lag < 2.0:
            return
        self._last_lag = time.monotonic()
        lag = 0
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is not None and tp in self._fetched:
                lag += max(0, high - self._fetched[tp])
        self._on_lag(lag)

    def revoked(self, partitions: frozenset[TopicPartition]) -> None:
        """On kafka-python's IO thread, mid-rebalance: commit what is acked without
        blocking (a blocking commit cannot run there); the request goes out before
        the group's next join on the same connection."""
        self._apply_acks()
        if offsets := self._committable(partitions):
            try:
                self._consumer.commit_async(offsets, callback=self._revoke_committed)
            except KafkaError as exc:
                log.warning("commit_on_revoke_failed topic=%s error=%s", self.topic, exc)
        for tp in partitions:
            if (gone := self._offsets.pop(tp, None)) is not None:
                gone.live = False
            self._fetched.pop(tp, None)
        self.assignment_known = False

    def _revoke_committed(self, offsets: Any, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("commit_on_revoke_failed topic=%s error=%s", self.topic, result)

    def assigned_to(self, partitions: frozenset[TopicPartition]) -> None:
        self.assigned = frozenset(tp.partition for tp in partitions)
        self.assignment_known = True
        self._paused = False
        log.info("partitions_assigned topic=%s partitions=%s", self.topic, sorted(self.assigned))

    def _failing(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.error:
            log.warning("consume_error topic=%s error=%s", self.topic, text)
        self.error = text

    def _close(self, dead_letter_wait: float = 5.0) -> None:
        if self._consumer is None:
            return
        deadline = time.monotonic() + dead_letter_wait
        while self._dead_in_flight > len(self._done) and time.monotonic() < deadline:
            time.sleep(0.02)  # let dead letters in flight be stored, so they are committed
        try:
            self.commit()
        except KafkaError as exc:
            log.warning("commit_on_close_failed topic=%s error=%s", self.topic, exc)
        try:
            self._consumer.close(autocommit=False)
        except KafkaError as exc:
            log.warning("consumer_close_failed topic=%s error=%s", self.topic, exc)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, thread: ConsumerThread) -> None:
        self._thread = thread

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._thread.revoked(frozenset(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._thread.assigned_to(frozenset(assigned))
