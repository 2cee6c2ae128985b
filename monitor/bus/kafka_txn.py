"""Kafka transactions and changelogs for the cluster roles (blocking: call off the event loop).

The scale-out roles (``monitor.cluster``) keep their shared state in compacted topics and
own partitions through consumer groups; this module is the Kafka side of that (the group
consumer that drives a role is :mod:`monitor.bus.kafka_group`):

* :class:`TxnProducer`: one transactional producer per owned partition
  (``transactional_id`` names the role and the partition, so the next owner's
  ``init_transactions`` fences this one and aborts its open transaction). A batch of
  records, and the consumed offsets with the consumer's group metadata (KIP-447), commit
  together or not at all: :class:`Fenced` when another owner took the partition,
  :class:`Aborted` when the transaction was aborted and may be tried again.
* :func:`read_changelog`: one partition of a compacted topic read, ``read_committed``,
  to its last stable offset, as its last value per key (tombstones delete).
* :func:`partition_for`: the default partitioner's choice (murmur2) for a key, so a role
  knows which keys one partition holds.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata as OffsetAndMetadata

from monitor.bus.kafka_hanging import abort_hanging
from monitor.bus.kafka_txn_state import Acks, Lost, fenced, healthy, same_epoch, unhealthy, unmapped
from monitor.errors import BusError

log = logging.getLogger(__name__)

TXN_TIMEOUT_MS = 20_000  # an owner that dies mid-transaction blocks read_committed this long
READ_DEADLINE = 120.0  # seconds a changelog read may take before it is given up (retried)
TXN_WAIT = 30.0  # seconds a transactional request may wait for the coordinator
BOOTSTRAP_WAIT = 10.0  # seconds a new producer may wait for the broker (30 by default)
CALL_WAIT_MS = 10_000  # a consumer's call for offsets, bounded (kafka-python may wait forever)
WAIT_STEP_MS = 100  # how often a wait looks at the producer's health and the stop


class Fenced(BusError):
    """Another owner took the partition (its producer fenced this one): drop it."""


class Aborted(BusError):
    """The transaction was aborted; nothing of it is visible. Try again."""


@dataclass(frozen=True, slots=True)
class Out:
    """One record to produce: to an explicit partition, or keyed (``partition`` None)."""

    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone
    partition: int | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def partition_for(key: bytes, partitions: int) -> int:
    """The partition kafka-python's default partitioner picks for ``key``."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


class TxnProducer:
    """A transactional producer for one owned partition; open() fences the last owner.

    kafka-python's ``commit_transaction``, ``abort_transaction`` and
    ``send_offsets_to_transaction`` wait for the broker without a bound (the Java
    client bounds them by ``max.block.ms`` since KAFKA-7763), and a sender thread in a
    state it does not leave (a fatal error, or "cannot reset producer state for a
    transactional producer" after an outage) never completes them. So each of those
    waits here is bounded: by ``TXN_WAIT``, by the deadline of :meth:`stop_by` while
    the daemon stops, and by the producer's health (its sender alive, no fatal error).
    A commit is asked for only once every record of the transaction is acknowledged,
    and trusted only if the producer's epoch did not change under it
    (:mod:`monitor.bus.kafka_txn_state`: kafka-python can report as committed a
    transaction the broker aborted, or one that lacks a record).
    A producer that fails one of them is closed at once (timeout 0: nothing of an
    uncommitted transaction is worth waiting for) and made again by the next
    :meth:`open`, whose ``init_transactions`` aborts what it left open. What was not
    committed is redone from the changelog and the committed offsets; nothing committed
    is lost.

    A producer made again inside :meth:`commit` (the last one was lost: closed after a
    failure, or found unhealthy) fences whoever holds the id now, and the owner's view
    may be behind: the partition may have moved to another daemon and back while the
    broker did not answer, before this daemon's revocation ran. So, for an owner with a
    ``changelog`` partition, the commit goes on only if no record was committed there
    since this producer's last commit (read ``read_committed``, after the new
    ``init_transactions``); else it raises :class:`Fenced` and the owner rebuilds its
    view from the changelog. An explicit :meth:`open` is a rebuild's: it starts the
    count again from the partition's last stable offset."""

    def __init__(
        self, kafka: dict[str, Any], transactional_id: str,
        guarded: Sequence[TopicPartition] = (), groups: Sequence[str] = (),
        changelog: TopicPartition | None = None,
    ) -> None:  # fmt: skip
        """``guarded`` and ``groups``' offsets: what the owner reads ``read_committed``
        and must not find blocked (checked after each ``init_transactions``);
        ``changelog``: the partition only the owner writes, its view's source."""
        self._kafka = {
            **kafka, "transactional_id": transactional_id, "acks": "all",
            "enable_idempotence": True, "transaction_timeout_ms": TXN_TIMEOUT_MS,
            "request_timeout_ms": 15_000, "delivery_timeout_ms": 30_000, "max_block_ms": 10_000,
            "linger_ms": 0,
        }  # fmt: skip
        self.transactional_id = transactional_id
        self._guarded, self._groups = tuple(guarded), tuple(groups)
        self._producer: Any = None
        self._stop_at = math.inf  # monotonic: while stopping, no wait goes past it
        self._abandoned = threading.Event()
        self._changelog = changelog
        self._connection = kafka  # a consumer's settings: the changelog's reads
        self._since: int | None = None  # changelog offset: any committed from here is not ours

    def open(self) -> None:
        """Connect and ``init_transactions``: an open transaction of the last owner with
        this id is aborted, and that owner can commit nothing any more. A producer found
        unhealthy is closed and made again. The owner reads its view after this."""
        self._connect()
        if self._changelog is not None:
            self._since = self._stable_end(self._changelog)

    def _connect(self) -> bool:
        """:meth:`open`'s connection and ``init_transactions``; whether a producer was made."""
        if self._producer is not None and fenced(self._producer):
            self.close()  # another owner has the id now: rebuilding would fence it back
            raise Fenced(f"{self.transactional_id}: fenced by a newer owner")
        if self._producer is not None and not healthy(self._producer):
            log.warning("txn_producer_rebuilt id=%s (%s)", self.transactional_id,
                        unhealthy(self._producer))  # fmt: skip
            self.close()
        if self._producer is not None:
            return False
        left = self._stop_at - time.monotonic()
        if self._abandoned.is_set() or left <= 0:
            raise Aborted(f"{self.transactional_id}: stopping")
        wait = int(min(BOOTSTRAP_WAIT, left) * 1000)  # the broker gone: bootstrap waits
        try:
            producer = KafkaProducer(**self._kafka, bootstrap_timeout_ms=wait)
        except KafkaError as exc:
            raise BusError(f"transactional producer {self.transactional_id}: {exc}") from exc
        try:
            producer.init_transactions()  # bounded by max_block_ms
        except KafkaError as exc:
            _close(producer)
            raise BusError(f"init_transactions {self.transactional_id}: {exc}") from exc
        self._producer = producer
        self._clear_hanging(producer)
        return True

    def _stable_end(self, tp: TopicPartition) -> int:
        """``tp``'s last stable offset; a producer that cannot ask is closed (Aborted)."""
        try:
            return end_offsets(self._connection, tp.topic, [tp.partition], TXN_WAIT)[tp.partition]
        except BusError as exc:
            self.close()
            raise Aborted(f"{self.transactional_id}: {exc}") from exc

    def _still_ours(self) -> None:
        """Made again inside a commit: :class:`Fenced` if another producer with this id
        committed to the changelog since this one's last commit (see the class)."""
        if self._changelog is None:
            return
        if self._since is None:  # never opened explicitly: nothing known to compare with
            self._since = self._stable_end(self._changelog)
            return
        try:
            others = committed_since(self._connection, self._changelog, self._since,
                                     stop_at=self._stop_at)  # fmt: skip
        except BusError as exc:
            self.close()  # the next commit makes one again and asks again
            raise Aborted(f"{self.transactional_id}: {exc}") from exc
        if others:
            self.close()
            raise Fenced(f"{self.transactional_id}: {others} record(s) committed to"
                         f" {self._changelog.topic}/{self._changelog.partition} since this"
                         " producer's last known commit, while it was lost (another owner's,"
                         " or a commit reported failed that went through): the view is"
                         " rebuilt from the changelog")  # fmt: skip

    def _clear_hanging(self, producer: Any) -> None:
        """Just initialised: abort what hangs on the guarded partitions and the groups'
        offsets (:mod:`monitor.bus.kafka_hanging`), so the owner's reads and committed
        offsets do not wait on a transaction nobody will end. Logged, not raised, when
        the broker cannot be asked: the next rebuild asks again."""
        if not self._guarded and not self._groups:
            return
        ident = producer._transaction_manager.producer_id_and_epoch
        current = {ident.producer_id: ident.epoch} if ident.producer_id >= 0 else {}
        try:
            abort_hanging(self._kafka, self._guarded, self._groups, current)
        except BusError as exc:
            log.warning("hanging_check_failed id=%s error=%s", self.transactional_id, exc)

    def commit(
        self, records: Iterable[Out], offsets: dict[Any, Any] | None = None, group: Any = None
    ) -> None:
        """Produce ``records`` and commit ``offsets`` for ``group`` in one transaction."""
        if self._connect():
            self._still_ours()
        producer = self._producer
        manager = producer._transaction_manager
        epoch = manager.producer_id_and_epoch
        try:
            producer.begin_transaction()
            acks = Acks()
            for r in records:
                self._check(producer)
                acks.add(producer.send(r.topic, key=r.key, value=r.value, partition=r.partition,
                                       headers=list(r.headers) or None))  # fmt: skip
            if offsets:
                self._wait(producer, manager.send_offsets_to_transaction(offsets, group))
            self._wait(producer, acks)  # every record stored before EndTxn is asked for
            same_epoch(manager, epoch)
            self._wait(producer, manager.begin_commit())
            same_epoch(manager, epoch)
            if self._changelog is not None and self._since is not None:
                last = acks.last.get((self._changelog.topic, self._changelog.partition))
                if last is not None:
                    self._since = max(self._since, last + 1)
        except Lost as exc:  # not committable: the producer is closed, the next open() makes one
            self.close()
            raise Aborted(f"{self.transactional_id}: {exc}") from exc
        except ProducerFencedError as exc:
            self.close()
            raise Fenced(f"{self.transactional_id}: fenced by a newer owner") from exc
        except KafkaError as exc:
            if fenced(producer):  # fenced between _check and send: send says only "failed"
                self.close()
                raise Fenced(f"{self.transactional_id}: fenced by a newer owner") from exc
            if unmapped(producer):
                self.close()
                raise Fenced(f"{self.transactional_id}: {exc} (taken for a fence: the"
                             " partition's state is rebuilt from Kafka)") from exc  # fmt: skip
            if isinstance(exc, KafkaTimeoutError):  # the broker gone: an abort would wait too
                self.close()
            else:
                self._abort(producer)
            raise Aborted(f"{self.transactional_id}: {type(exc).__name__}: {exc}") from exc

    def _wait(self, producer: Any, result: Any) -> None:
        """Until ``result`` (a transaction manager's request) completes: it raises what
        the broker answered; KafkaTimeoutError past the bounds, KafkaError when the
        producer cannot complete it any more."""
        producer._sender.wakeup()
        give_up = min(time.monotonic() + TXN_WAIT, self._stop_at)
        while not result.wait(timeout_ms=WAIT_STEP_MS):
            self._check(producer)
            if time.monotonic() >= give_up:
                raise KafkaTimeoutError("no answer from the transaction coordinator in time")

    def _check(self, producer: Any) -> None:
        if self._abandoned.is_set() or time.monotonic() >= self._stop_at:
            raise KafkaTimeoutError("stopping: the transaction is given up")
        if fenced(producer):  # the fatal state may be set before the request fails
            raise ProducerFencedError()
        if (why := unhealthy(producer)) is not None:
            raise KafkaError(why)

    def _abort(self, producer: Any) -> None:
        """Abort the open transaction, or close the producer when it cannot (the next
        open() makes another, whose init_transactions aborts it)."""
        manager = producer._transaction_manager
        if healthy(producer) and not manager.is_completing():
            try:
                self._wait(producer, manager.begin_abort())
                return
            except KafkaError as exc:
                log.warning("txn_abort_failed id=%s error=%s", self.transactional_id, exc)
        self.close()

    def stop_by(self, deadline: float) -> None:
        """The daemon stops: no call of this producer waits past ``deadline``
        (monotonic); a transaction not committed by then is given up."""
        self._stop_at = min(self._stop_at, deadline)

    def abandon(self) -> None:
        """Give up whatever waits now (another thread may be in :meth:`commit`) and
        close: this producer is not used again."""
        self._abandoned.set()
        self.close()

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            _close(producer)


def _close(producer: Any) -> None:
    """Close at once: a sender still trying is stopped (kafka-python's close flushes
    first and joins the sender; with 0 neither waits)."""
    with contextlib.suppress(Exception):
        producer.close(timeout=0)


def committed_since(
    kafka: dict[str, Any], tp: TopicPartition, offset: int, stop_at: float = math.inf
) -> int:
    """How many records transactions committed to ``tp`` from ``offset`` to its last
    stable offset (aborted records and transaction markers are not counted), at least:
    it stops at the first batch that has some, since whether there are any is the
    question."""
    try:
        consumer = KafkaConsumer(**{**kafka, "group_id": None,
                                    "isolation_level": "read_committed",
                                    "enable_auto_commit": False})  # fmt: skip
    except KafkaError as exc:  # the broker gone: it cannot bootstrap
        raise BusError(f"{tp.topic}/{tp.partition}: {exc}") from exc
    try:
        consumer.assign([tp])
        end = consumer.end_offsets([tp], timeout_ms=CALL_WAIT_MS)[tp]
        if end <= offset:
            return 0
        consumer.seek(tp, offset)
        found, deadline = 0, min(time.monotonic() + READ_DEADLINE, stop_at)
        while consumer.position(tp, timeout_ms=CALL_WAIT_MS) < end:
            if time.monotonic() > deadline:
                raise BusError(f"{tp.topic}/{tp.partition}: not read from {offset} to {end}")
            found += len(consumer.poll(timeout_ms=500, max_records=2000).get(tp, ()))
            if found:
                break
        return found
    except KafkaError as exc:
        raise BusError(f"{tp.topic}/{tp.partition}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False, timeout_ms=0)


def read_changelog(
    kafka: dict[str, Any], topic: str, partition: int,
    progress: Callable[[int, int], None] | None = None, *, stop: threading.Event | None = None,
) -> dict[bytes, bytes]:  # fmt: skip
    """``topic``'s ``partition`` read from its start to its last stable offset (committed
    transactions only): the last value of each key, tombstoned keys left out. Given up
    (:class:`BusError`) after ``READ_DEADLINE`` or once ``stop`` is set."""
    consumer = KafkaConsumer(**{**kafka, "group_id": None, "isolation_level": "read_committed",
                                "enable_auto_commit": False})  # fmt: skip
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp], timeout_ms=CALL_WAIT_MS)[tp]
        state: dict[bytes, bytes] = {}
        deadline, read = time.monotonic() + READ_DEADLINE, 0
        while consumer.position(tp, timeout_ms=CALL_WAIT_MS) < end:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise BusError(f"changelog {topic}/{partition}: not read to {end} (given up)")
            for record in consumer.poll(timeout_ms=500, max_records=2000).get(tp, ()):
                if record.value is None:
                    state.pop(record.key, None)
                else:
                    state[record.key] = record.value
                read += 1
            if progress is not None:
                progress(read, end)
        return state
    except KafkaError as exc:
        raise BusError(f"changelog {topic}/{partition}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False, timeout_ms=0)


def end_offsets(
    kafka: dict[str, Any], topic: str, partitions: Iterable[int], timeout: float
) -> dict[int, int]:
    """Each of ``partitions``' last stable offset (what ``read_committed`` reads up to),
    asked within about ``timeout`` seconds (:class:`BusError` if not answered)."""
    wait = max(1, int(timeout * 1000))
    try:
        consumer = KafkaConsumer(**{**kafka, "group_id": None, "isolation_level": "read_committed",
                                    "enable_auto_commit": False, "request_timeout_ms": 30_000,
                                    "bootstrap_timeout_ms": wait})  # fmt: skip
    except KafkaError as exc:  # the broker gone: it cannot bootstrap
        raise BusError(f"end offsets of {topic}: {exc}") from exc
    try:
        parts = [TopicPartition(topic, p) for p in partitions]
        found = consumer.end_offsets(parts, timeout_ms=wait)
        return {tp.partition: int(end) for tp, end in found.items()}
    except KafkaError as exc:
        raise BusError(f"end offsets of {topic}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False, timeout_ms=0)
