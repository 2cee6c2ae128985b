"""The Kafka consumer side of the bus: one thread per (topic, stage group).

kafka-python's ``KafkaConsumer`` is blocking and not thread-safe, so each
``consume()`` owns one :class:`ConsumerThread` that alone touches its consumer:
it polls, decodes, hands batches of messages to the event loop, and commits.

Offsets (at-least-once):

* ``enable_auto_commit=False``. A stage acks a message once its own output is
  durable; the ack is queued to the thread, which commits, per partition, only
  the highest offset below which *every* delivered message is acked (acks may
  come out of order: :mod:`monitor.bus.kafka_acks` keeps that account). Commits
  are batched (``commit_interval``), forced on partition revocation (the group
  member's listener, :mod:`monitor.bus.kafka_member`) and on close.
* Flow control: when ``max_in_flight`` messages are delivered but not acked,
  the thread pauses its partitions and keeps polling, so a slow stage (a sink
  honouring Retry-After) never makes the consumer miss ``max_poll_interval``.
* A record that is not a readable envelope (not JSON, unknown type or schema
  version, any field wrong) is handed to ``dead_letter`` and counts as processed
  once the dead-letter topic has it; so does a message the stage could not
  handle (``KafkaMessage.dead_letter``). Neither ever stops the consumer.
* Lag, reported every few seconds from this thread: the records of the assigned
  partitions the stage has not finished (:func:`monitor.bus.kafka_acks.unfinished`).
* The thread outlives any error: a client error or a bug is logged once, shown
  as ``error`` (readiness reports it) and the loop goes on after a backoff. A
  client that keeps failing ``REBUILD_AFTER`` seconds while the broker answers
  (``ConsumerSettings.reachable``), as one whose IO thread died does, is closed
  and a new one joins in its place (*rebuilt*); what was delivered and not
  committed is delivered again.
* Bounded: a commit waits at most ``COMMIT_TIMEOUT`` (what it could not commit is
  committed later, or delivered again), and closing at most ``CLOSE_TIMEOUT`` more,
  even with the broker gone, so a stop is never held up by it.
* After each assignment the topic's partition count, as the client's metadata
  has it, goes to ``on_partitions``: the bus compares it with the config's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from monitor.bus.kafka_acks import AckBook, unfinished
from monitor.bus.kafka_member import (
    CLOSE_TIMEOUT,
    MAX_BACKOFF,
    REBUILD_AFTER,
    GroupMember,
    Listener,
    close_quietly,
)
from monitor.bus.kafka_member import ConsumerSettings as ConsumerSettings  # re-exported
from monitor.bus.kafka_member import finish_dropped_join as finish_dropped_join  # re-exported
from monitor.bus.kafka_message import (
    ORIGIN_HEADER,
    DeadLetter,
    KafkaMessage,
    classify,
)

log = logging.getLogger(__name__)

LAG_INTERVAL = 2.0  # seconds between two lag reports (one ListOffsets request each)
COMMIT_TIMEOUT = 3.0  # seconds one blocking commit may take


class ConsumerThread(GroupMember):
    def __init__(
        self, topic: str, settings: ConsumerSettings, loop: asyncio.AbstractEventLoop,
        deliver: Callable[[list[KafkaMessage]], None], on_ack: Callable[[KafkaMessage], None],
        dead_letter: DeadLetter, on_lag: Callable[[int], None],
        on_partitions: Callable[[int], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(f"newsmon-consume-{topic}", topic, settings)
        self.assigned: frozenset[int] = frozenset()
        self.assignment_known = False
        # partition -> the first offset delivered since it was assigned: what is
        # below it was processed by the group before (replaced whole, never mutated)
        self.starts: dict[int, int] = {}
        self.error: str | None = None
        self._loop, self._deliver, self._on_ack = loop, deliver, on_ack
        self._dead_letter, self._on_lag, self._on_partitions = dead_letter, on_lag, on_partitions
        self._count_partitions = False  # an assignment came: report the partition count
        self._failing_since: float | None = None  # when the current run of failures began
        self._book = AckBook(dead_letter)
        self._paused = False
        self._commit_failing = False
        self._last_commit = self._last_lag = time.monotonic()
        self._traced: str | None = None  # the last unexpected error logged with its traceback
        self._unexpected_at = -math.inf  # when _step last raised other than a KafkaError

    def acked(self, message: KafkaMessage) -> None:
        """Called on the event loop; the thread applies it on its next turn."""
        self._book.acked(message)

    def _listener(self) -> Listener:
        return Listener(revoked=self.revoked, assigned=self.assigned_to)

    def _steps(self) -> None:
        """Steps until stopped, or until the client must be rebuilt (then closed)."""
        delay = 0.2
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception as exc:  # a bug, or a client fault it does not translate
                self._unexpected(exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            else:
                delay = 0.2
            if (since := self._failing_since) is None:
                continue
            if not self.settings.reachable():
                self._failing_since = None  # the broker is away: counted once it is back
            elif time.monotonic() - since >= REBUILD_AFTER:
                self._rebuild(f"failing for {time.monotonic() - since:.0f}s: {self.error}")
                return

    def _rebuild(self, why: str) -> None:
        """Close the client (no commit: it cannot) and forget what it delivered: the next
        one, joining afresh, is given it again from the committed offsets."""
        log.warning("consumer_rebuild topic=%s reason=%s", self.topic, why)
        consumer, self._consumer = self._consumer, None
        close_quietly(consumer)
        self._book.drop()
        self.assigned, self.starts, self.assignment_known = frozenset(), {}, False
        self._paused, self._failing_since = False, None
        if self.settings.on_rebuild is not None:
            self.settings.on_rebuild("consumer")

    def _step(self) -> None:
        try:
            self._book.apply()
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
            finish_dropped_join(self._consumer)
            if self._count_partitions and self._on_partitions is not None:
                self._count_partitions = False
                self._on_partitions(len(self._consumer.partitions_for_topic(self.topic) or ()))
        except KafkaError as exc:
            self._failing(exc)
            self._stopping.wait(1.0)
            return
        batch = self._read(records)
        if batch:
            self._loop.call_soon_threadsafe(self._deliver, batch)
        self._report_lag()
        self._recovered()

    def _recovered(self) -> None:
        """Clear the error once a step went well."""
        if (
            self.error is not None
            and not self._commit_failing
            # after an unexpected error, steps with every periodic part (commit, lag) clean
            and time.monotonic() - self._unexpected_at > 2 * LAG_INTERVAL
        ):
            log.info("consume_recovered topic=%s", self.topic)
            self.error = self._traced = None
        if self.error is None:
            self._failing_since = None

    def _read(self, records: dict[TopicPartition, list[Any]]) -> list[KafkaMessage]:
        batch: list[KafkaMessage] = []
        add, on_ack, stored = batch.append, self._on_ack, self._book.stored  # the hot path
        for tp, recs in records.items():
            offsets = self._book.partition(tp)
            delivered, partition = offsets.delivered.append, tp.partition
            if recs and partition not in self.starts:
                self.starts = {**self.starts, partition: recs[0].offset}
            for record in recs:
                delivered(record.offset)
                headers = dict(record.headers) if record.headers else {}
                value, reason, detail = classify(record, headers)
                if value is None:
                    self._dead_letter(record, reason, detail, stored(offsets, record.offset))
                    continue
                key = record.key.decode("utf-8", "replace") if record.key else ""
                add(KafkaMessage(key, value, partition, record.offset,
                                 headers.get(ORIGIN_HEADER), offsets, on_ack, record))  # fmt: skip
        return batch

    def commit(self) -> None:
        self._book.apply()
        self._commit()

    def _commit(self) -> None:
        self._last_commit = time.monotonic()
        if not (offsets := self._book.committable()):
            self._commit_failing = False
            return
        self._commit_failing = True
        self._consumer.commit(offsets, timeout_ms=int(COMMIT_TIMEOUT * 1000))
        self._commit_failing = False
        self._book.committed(offsets)

    def _flow_control(self) -> None:
        """Pause the partitions at ``max_in_flight`` messages not acked (polls go on,
        so the group keeps this member); resume them below half of it."""
        in_flight = self._book.in_flight()
        limit = self.settings.max_in_flight
        if not self._paused and in_flight >= limit:
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
        elif self._paused and in_flight < limit // 2:
            self._consumer.resume(*self._consumer.paused())
            self._paused = False

    def _report_lag(self) -> None:
        """The lag (:func:`~monitor.bus.kafka_acks.unfinished`), every ``LAG_INTERVAL``."""
        if time.monotonic() - self._last_lag < LAG_INTERVAL:
            return
        self._last_lag = time.monotonic()
        try:
            lag = unfinished(self._consumer, self._book)
        except KafkaError as exc:  # e.g. a partition revoked meanwhile, the broker away
            log.debug("lag_unknown topic=%s error=%s", self.topic, exc)
            return
        self._on_lag(lag)

    def revoked(self, partitions: frozenset[TopicPartition]) -> None:
        """On kafka-python's IO thread, mid-rebalance: commit what is acked without
        blocking (a blocking commit cannot run there); the request goes out before
        the group's next join on the same connection."""
        self._book.apply()
        if offsets := self._book.committable(partitions):
            try:
                self._consumer.commit_async(offsets, callback=self._revoke_committed)
            except KafkaError as exc:
                log.warning("commit_on_revoke_failed topic=%s error=%s", self.topic, exc)
        self._book.drop(partitions)
        gone_partitions = {tp.partition for tp in partitions}
        self.starts = {p: at for p, at in self.starts.items() if p not in gone_partitions}
        self.assignment_known = False

    def _revoke_committed(self, offsets: Any, result: Any) -> None:
        if isinstance(result, Exception):
            log.warning("commit_on_revoke_failed topic=%s error=%s", self.topic, result)

    def assigned_to(self, partitions: frozenset[TopicPartition]) -> None:
        self.assigned = frozenset(tp.partition for tp in partitions)
        self.starts = {}  # set again by the first records of each partition
        self.assignment_known = True
        self._paused = False
        self._count_partitions = True
        log.info("partitions_assigned topic=%s partitions=%s", self.topic, sorted(self.assigned))

    def _failing(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.error:
            log.warning("consume_error topic=%s error=%s", self.topic, text)
        self.error = text
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    def _unexpected(self, exc: Exception) -> None:
        """Not a KafkaError the step expects: logged with its traceback once."""
        text = f"{type(exc).__name__}: {exc}"
        if text != self._traced:
            log.error("consume_error topic=%s error=%s", self.topic, text, exc_info=exc)
            self._traced = text
        self.error = text
        self._unexpected_at = time.monotonic()
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    def _close(self, dead_letter_wait: float = 5.0) -> None:
        if self._consumer is None:
            return
        if not self.settings.reachable():  # nothing would go out: what is acked is redone
            close_quietly(self._consumer, 0)
            return
        deadline = time.monotonic() + dead_letter_wait
        self._book.apply()  # dead letters the stage asked for go out now, and are waited for
        while self._book.dead_letters_in_flight() and time.monotonic() < deadline:
            time.sleep(0.02)  # let dead letters in flight be stored, so they are committed
        try:
            self.commit()
        except KafkaError as exc:
            log.warning("commit_on_close_failed topic=%s error=%s", self.topic, exc)
        try:
            self._consumer.close(autocommit=False, timeout_ms=int(CLOSE_TIMEOUT * 1000))
        except KafkaError as exc:
            log.warning("consumer_close_failed topic=%s error=%s", self.topic, exc)
