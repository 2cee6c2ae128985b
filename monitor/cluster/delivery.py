"""The delivery role: one owner per receiver, its pending alerts sent by a survivor.

``<prefix>.outbox`` is keyed by receiver (one receiver's alerts in one partition:
ordering, digests, rate limits and Retry-After stay per receiver); the consumer group
``<group_id>.delivery`` gives each partition one owner. The owner serves the partition's
receivers with the memory bus's dispatcher and outbox (:class:`ClusterOutbox`, on this
daemon's state file), each change written to ``<prefix>.deliveries`` by the partition's
:class:`~monitor.cluster.delivery_writer.Writer`.

* **On assignment**: the writer's producer fences the last owner; the changelog partition
  is read and merged with what this daemon's state file kept
  (:func:`~monitor.cluster.delivery_changelog.pick`); the partition's receivers are
  served; the consumer resumes where the last ingest committed.
* **An outbox record** is applied to the local outbox (``ClusterOutbox.ingest``), and its
  rows' states go to the changelog in the transaction that commits its offset.
* **A send**: its rows are written with their attempt time first; the outcome after.
* **On revocation** the partition's receivers stop taking new sends, the send in flight
  finishes (bounded by ``delivery.timeout``) and its outcome is committed before the
  group goes on: a clean handover repeats nothing. Only a daemon that dies (or is cut
  off) between a receiver's acceptance and that commit leaves a send the next owner
  repeats: ``newsmon_deliveries_resent_total{receiver}`` counts those.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import Future
from typing import Any

from monitor.alerts.deliver import Dispatcher
from monitor.bus.kafka_group import GroupLoop
from monitor.bus.kafka_txn import (
    CALL_WAIT_MS,
    Fenced,
    OffsetAndMetadata,
    Out,
    TopicPartition,
    TxnProducer,
)
from monitor.bus.kafka_txn import read_changelog as read
from monitor.cluster import delivery_changelog as changelog
from monitor.cluster import delivery_handover as handovers
from monitor.cluster.delivery_outbox import ClusterOutbox
from monitor.cluster.delivery_writer import Writer
from monitor.cluster.stories_intents import Intent, decode
from monitor.config import Settings
from monitor.metrics import Metrics

log = logging.getLogger(__name__)

ROLE = "delivery"
LOOP_WAIT = 30.0  # seconds the consumer waits for the event loop to apply a batch
STOP_WAIT = 5.0  # seconds an ingest may still take to commit once stopping


class DeliveryOwner:
    """The delivery role for a :class:`GroupLoop` (see the module docstring)."""

    def __init__(self, settings: Settings, metrics: Metrics, kafka: dict[str, Any],
                 outbox: ClusterOutbox, dispatcher: Dispatcher,
                 loop: asyncio.AbstractEventLoop) -> None:  # fmt: skip
        b = settings.bus
        self.settings, self.metrics, self.kafka = settings, metrics, kafka
        self.outbox, self.dispatcher, self.loop = outbox, dispatcher, loop
        self.topic = f"{b.topic_prefix}.deliveries"
        self.dead_letter = f"{b.topic_prefix}.dead-letter"
        self.txn_prefix = f"{b.group_id}.{ROLE}"
        self.receivers = sorted(dispatcher.workers)
        self.owned: frozenset[int] = frozenset()
        self.assigned_once = False
        self.rebalancing = False  # revoked, not yet assigned again: keep what may come back
        self.built: set[int] = set()
        self.rebuilding: dict[int, tuple[int, int]] = {}
        self._since: dict[int, float] = {}
        self._lock = threading.Lock()
        self.release_timeout = settings.delivery.timeout + 5.0
        self.keep_sent = settings.state.seen_retention_days * 86400.0
        self.stop_at = math.inf  # monotonic: the daemon stops, nothing waits past it
        self._writers: list[Writer] = []  # every writer started (a dropped one may still run)

    def receivers_of(self, partitions: frozenset[int] | set[int]) -> list[str]:
        return [r for r in self.receivers if self.outbox.partition(r) in partitions]

    # -- the group's calls (kafka-python's IO thread) ---------------------------------

    def assigned(self, partitions: frozenset[int]) -> None:
        now = time.monotonic()
        with self._lock:
            self.owned, self.assigned_once, self.rebalancing = partitions, True, False
            for p in partitions - self.built:
                self._since.setdefault(p, now)
        self.metrics.cluster_partitions_owned.labels(ROLE).set(len(partitions))
        log.info("partitions_assigned role=%s partitions=%s receivers=%s", ROLE,
                 sorted(partitions), ",".join(self.receivers_of(partitions)))  # fmt: skip
        if not self.loop.is_closed():  # receivers kept across the rebalance: serve them
            self.loop.call_soon_threadsafe(self._serve, partitions & self.built)

    def revoked(self, partitions: frozenset[int]) -> None:
        """Hand over: stop new sends, let the one in flight finish and its outcome commit."""
        with self._lock:
            self.owned, self.rebalancing = self.owned - partitions, True
        if not partitions or self.loop.is_closed():
            return
        handover = asyncio.run_coroutine_threadsafe(handovers.release(self, partitions), self.loop)
        try:
            handover.result(min(self.release_timeout + 1, self._left()))
        except Exception as exc:  # a send that outlived its timeout: the window, counted
            log.warning("handover_incomplete role=%s partitions=%s error=%s", ROLE,
                        sorted(partitions), type(exc).__name__)  # fmt: skip

    # -- the loop's thread --------------------------------------------------------------

    def turn(self, loop: GroupLoop) -> None:
        with self._lock:
            owned = self.owned
            gone = [] if self.rebalancing else [p for p in self.built if p not in owned]
        for p in gone:
            self._drop(p)
        for p in [p for p in self._since if p not in owned]:
            self._since.pop(p, None)
        for p in sorted(owned - self.built):
            if loop.stopping:
                return
            self._build(loop, p)

    def handle(self, loop: GroupLoop, partition: int, records: list[Any]) -> None:
        if partition not in self.owned:
            return
        if partition not in self.built and not self._build(loop, partition, records[0].offset):
            return
        intents, dead = [], []
        for record in records:
            try:
                intents.append(decode(record.value or b""))
            except ValueError as exc:
                dead.append(self._dead_letter(record, str(exc)))
        offsets = {loop.tp(partition): OffsetAndMetadata(records[-1].offset + 1, "", -1)}
        group = loop.consumer.group_metadata()
        apply = self._apply(partition, intents, dead, offsets, group)
        try:
            job = asyncio.run_coroutine_threadsafe(apply, self.loop).result(LOOP_WAIT)
            self._wait(loop, job)
        except (Fenced, TimeoutError) as exc:
            log.warning("delivery_ingest_fenced partition=%d error=%s", partition,
                        str(exc) or type(exc).__name__)  # fmt: skip
            self._drop(partition)
            if not loop.stopping:  # stopping: the next owner starts from the committed offset
                loop.consumer.seek(loop.tp(partition), self._committed(loop, partition))

    def _wait(self, loop: GroupLoop, job: Future[None]) -> None:
        """Until the ingest committed; given up (to be read again) when stopping and
        Kafka does not answer in time."""
        stop_at: float | None = None
        while True:
            try:
                job.result(0.5)
                return
            except TimeoutError:
                if loop.stopping:
                    stop_at = stop_at or min(time.monotonic() + STOP_WAIT, self.stop_at)
                    if time.monotonic() > stop_at:
                        raise

    async def _apply(self, partition: int, intents: list[Intent], dead: list[Out],
                     offsets: dict[Any, Any], group: Any) -> Future[None]:  # fmt: skip
        """On the event loop: apply, then queue the records with the offsets (before any
        send of what they added can queue its attempt)."""
        out = list(dead)
        woken: set[str] = set()
        for intent in intents:
            out += self.outbox.ingest(intent)
            woken.add(intent.receiver)
        writer = self.outbox.writers.get(partition)
        if writer is None:
            failed: Future[None] = Future()
            failed.set_exception(Fenced(f"partition {partition} is not ours"))
            return failed
        job = writer.submit(out, offsets, group)
        self.dispatcher.wake(woken)
        return job

    def _build(self, loop: GroupLoop, partition: int, first: int | None = None) -> bool:
        started = time.monotonic()
        own = TopicPartition(self.topic, partition)
        producer = TxnProducer(self.kafka, f"{self.txn_prefix}.{partition}",
                               [own, loop.tp(partition)], [loop.kafka["group_id"]],
                               changelog=own)  # fmt: skip
        producer.stop_by(self.stop_at)
        producer.open()  # fences the last owner (BusError: the loop retries the turn)
        self.rebuilding[partition] = (0, 0)
        try:
            committed = self._committed(loop, partition)  # only this producer commits it now
            records = read(self.kafka, self.topic, partition,
                           lambda n, end: self._progress(partition, n, end),
                           stop=loop.stop_event)  # fmt: skip
        except BaseException:
            producer.close()
            raise
        finally:
            self.rebuilding.pop(partition, None)
        writer = Writer(partition, producer, self._aborted, self._fenced)
        writer.start()
        self._writers = [w for w in self._writers if w.is_alive()] + [writer]
        state = changelog.decode(records)
        restore = asyncio.run_coroutine_threadsafe(
            handovers.restore(self, partition, writer, state), self.loop)  # fmt: skip
        rows, ours = restore.result(LOOP_WAIT)
        with self._lock:
            self.built.add(partition)
        resume = first is not None and first == committed
        if not resume:
            loop.consumer.seek(loop.tp(partition), committed)
        since = self._since.pop(partition, None)
        if since is not None:
            self.metrics.cluster_takeovers.labels(ROLE).inc()
            self.metrics.cluster_takeover_seconds.labels(ROLE).observe(time.monotonic() - since)
        log.info("%s role=%s partition=%d receivers=%s rows=%d kept_from_state_file=%d"
                 " attempted=%d records=%d rebuild_seconds=%.3f offset=%d",
                 "takeover" if since is not None else "rebuilt", ROLE, partition,
                 ",".join(self.receivers_of({partition})), rows, ours, len(state.attempted),
                 len(records), time.monotonic() - started, committed)  # fmt: skip
        return resume

    def _progress(self, partition: int, read: int, end: int) -> None:
        self.rebuilding[partition] = (read, end)

    def _serve(self, partitions: frozenset[int] | set[int]) -> None:
        receivers = self.receivers_of(partitions)
        self.outbox.serving |= set(receivers)
        self.dispatcher.wake(set(receivers))

    def _drop(self, partition: int, writer: Writer | None = None) -> None:
        """Stop serving ``partition`` (only if ``writer``, when given, is still its writer:
        a rebuild may have replaced it). The event loop does it, before any rebuild that
        follows: that is queued after this."""

        def stop() -> None:
            current = self.outbox.writers.get(partition)
            if current is None or (writer is not None and current is not writer):
                return
            self.outbox.serving -= set(self.receivers_of({partition}))
            self.outbox.writers.pop(partition).close()

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(stop)
        with self._lock:
            if writer is None or self.outbox.writers.get(partition) is writer:
                self.built.discard(partition)

    def _fenced(self, writer: Writer) -> None:
        """A writer found its partition taken (on its thread): stop serving it; the
        partition is built again if the group still gives it to this daemon."""
        self._drop(writer.partition, writer)

    def _aborted(self) -> None:
        self.metrics.cluster_transaction_aborts.labels(ROLE).inc()

    def _committed(self, loop: GroupLoop, partition: int) -> int:
        tp = loop.tp(partition)
        committed: int | None = loop.consumer.committed(tp, timeout_ms=CALL_WAIT_MS)
        if committed is None:
            return int(loop.consumer.beginning_offsets([tp], timeout_ms=CALL_WAIT_MS)[tp])
        return committed

    def _dead_letter(self, record: Any, detail: str) -> Out:
        self.metrics.bus_dead_letters.labels("outbox", "undecodable").inc()
        log.warning("dead_letter topic=%s partition=%d offset=%d reason=undecodable detail=%s",
                    record.topic, record.partition, record.offset, detail[:200])  # fmt: skip
        where = f"{record.topic}/{record.partition}/{record.offset}".encode()
        headers = [("newsmon-error", b"undecodable"), ("newsmon-error-detail",
                   detail.encode()[:1000]), ("newsmon-source", where)]  # fmt: skip
        return Out(self.dead_letter, record.key or b"", record.value or b"", None, headers)

    def _left(self) -> float:
        return max(0.0, self.stop_at - time.monotonic())

    def stop_by(self, deadline: float) -> None:
        """The daemon stops: no transaction or handover waits past ``deadline``
        (monotonic); what is not committed by then is redone by the next owner."""
        self.stop_at = min(self.stop_at, deadline)
        for writer in list(self._writers):
            writer.producer.stop_by(deadline)

    def close(self, deadline: float | None = None) -> None:
        """The writers commit what they hold until ``deadline`` (monotonic); a writer
        still waiting on the broker then is given up (its producer closed at once)."""
        if deadline is not None:
            self.stop_by(deadline)
        writers = list({*self._writers, *self.outbox.writers.values()})
        for writer in writers:
            writer.close()
        for writer in writers:
            writer.join(min(10.0, self._left()))
        for writer in writers:
            if writer.is_alive():
                writer.abandon()
        self.outbox.writers.clear()

    def ready(self) -> bool:
        return self.assigned_once and not self.rebuilding and set(self.owned) <= self.built
