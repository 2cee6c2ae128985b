"""Kafka transactions and changelogs for the cluster roles (blocking: call off the event loop).

The scale-out roles (``monitor.cluster``) keep their shared state in compacted topics and
own partitions through consumer groups; this module is the Kafka side of that:

* :class:`TxnProducer`: one transactional producer per owned partition
  (``transactional_id`` names the role and the partition, so the next owner's
  ``init_transactions`` fences this one and aborts its open transaction). A batch of
  records, and the consumed offsets with the consumer's group metadata (KIP-447), commit
  together or not at all: :class:`Fenced` when another owner took the partition,
  :class:`Aborted` when the transaction was aborted and may be tried again.
* :func:`read_changelog`: one partition of a compacted topic read, ``read_committed``,
  to its last stable offset, as its last value per key (tombstones delete).
* :func:`ensure_changelogs`: the topics created when missing, with their cleanup policy;
  a topic found with another partition count is reported (never "fixed").
* :class:`GroupLoop`: a consumer thread in a group (``read_committed``, no auto commit)
  that tells its role which partitions it was assigned and revoked, and hands it the
  records of each partition.
* :func:`partition_for`: the default partitioner's choice (murmur2) for a key, so a role
  knows which keys one partition holds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, ProducerFencedError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata as OffsetAndMetadata

from monitor.bus.kafka_consumer import finish_dropped_join
from monitor.errors import BusError

log = logging.getLogger(__name__)

REBUILD_AFTER = 8  # consecutive failed turns before the consumer is closed and made again
TXN_TIMEOUT_MS = 20_000  # an owner that dies mid-transaction blocks read_committed this long
READ_DEADLINE = 120.0  # seconds a changelog read may take before it is given up (retried)


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
    """A transactional producer for one owned partition; open() fences the last owner."""

    def __init__(self, kafka: dict[str, Any], transactional_id: str) -> None:
        self._kafka = {
            **kafka, "transactional_id": transactional_id, "acks": "all",
            "enable_idempotence": True, "transaction_timeout_ms": TXN_TIMEOUT_MS,
            "request_timeout_ms": 15_000, "delivery_timeout_ms": 30_000, "max_block_ms": 10_000,
            "linger_ms": 0,
        }  # fmt: skip
        self.transactional_id = transactional_id
        self._producer: Any = None

    def open(self) -> None:
        """Connect and ``init_transactions``: an open transaction of the last owner with
        this id is aborted, and that owner can commit nothing any more."""
        if self._producer is not None:
            return
        try:
            producer = KafkaProducer(**self._kafka)
        except KafkaError as exc:
            raise BusError(f"transactional producer {self.transactional_id}: {exc}") from exc
        try:
            producer.init_transactions()
        except KafkaError as exc:
            _close(producer)
            raise BusError(f"init_transactions {self.transactional_id}: {exc}") from exc
        self._producer = producer

    def commit(
        self, records: Iterable[Out], offsets: dict[Any, Any] | None = None, group: Any = None
    ) -> None:
        """Produce ``records`` and commit ``offsets`` for ``group`` in one transaction."""
        self.open()
        producer = self._producer
        try:
            producer.begin_transaction()
            for r in records:
                producer.send(r.topic, key=r.key, value=r.value, partition=r.partition,
                              headers=list(r.headers) or None)  # fmt: skip
            if offsets:
                producer.send_offsets_to_transaction(offsets, group)
            producer.commit_transaction()
        except ProducerFencedError as exc:
            self.close()
            raise Fenced(f"{self.transactional_id}: fenced by a newer owner") from exc
        except KafkaError as exc:
            self._abort()
            raise Aborted(f"{self.transactional_id}: {type(exc).__name__}: {exc}") from exc

    def _abort(self) -> None:
        manager = getattr(self._producer, "_transaction_manager", None)
        if manager is not None and not manager.has_fatal_error():
            try:
                self._producer.abort_transaction()
                return
            except KafkaError as exc:
                log.warning("txn_abort_failed id=%s error=%s", self.transactional_id, exc)
        self.close()  # a fatal state: rebuilt by the next open()

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            _close(producer)


def _close(producer: Any) -> None:
    with contextlib.suppress(Exception):
        producer.close(timeout=2)


def read_changelog(
    kafka: dict[str, Any], topic: str, partition: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[bytes, bytes]:  # fmt: skip
    """``topic``'s ``partition`` read from its start to its last stable offset (committed
    transactions only): the last value of each key, tombstoned keys left out."""
    consumer = KafkaConsumer(**{**kafka, "group_id": None, "isolation_level": "read_committed",
                                "enable_auto_commit": False})  # fmt: skip
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        state: dict[bytes, bytes] = {}
        deadline, read = time.monotonic() + READ_DEADLINE, 0
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise BusError(f"changelog {topic}/{partition}: not read to {end} in time")
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
            consumer.close(autocommit=False)


def end_offsets(kafka: dict[str, Any], topic: str) -> dict[int, int]:
    """Each partition's last stable offset (what ``read_committed`` reads up to)."""
    consumer = KafkaConsumer(**{**kafka, "group_id": None, "isolation_level": "read_committed",
                                "enable_auto_commit": False})  # fmt: skip
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: int(end) for tp, end in consumer.end_offsets(parts).items()}
    except KafkaError as exc:
        raise BusError(f"end offsets of {topic}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            consumer.close(autocommit=False)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


def compacted(name: str, partitions: int, replication_factor: int) -> TopicSpec:
    """A changelog: the last value per key kept; segments rolled hourly so it compacts."""
    configs = {"cleanup.policy": "compact", "segment.ms": "3600000"}
    return TopicSpec(name, partitions, replication_factor, configs)


def ensure_changelogs(servers: Sequence[str], specs: Sequence[TopicSpec]) -> list[str]:
    """Create the missing topics; one message per existing topic whose partition count
    is not the spec's (kept as is: changing it would move keys between partitions)."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=list(servers), client_id="newsmon-admin")
    except KafkaError as exc:
        raise BusError(f"kafka admin: cannot reach {','.join(servers)}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        for spec in specs:
            if spec.name not in existing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another daemon made it
                    admin.create_topics([NewTopic(spec.name, spec.partitions,
                                                  spec.replication_factor,
                                                  topic_configs=spec.configs)])  # fmt: skip
                    log.info("topic_created topic=%s partitions=%d", spec.name, spec.partitions)
        found = _partition_counts(admin, [s.name for s in specs])
        wrong = [s for s in specs if found.get(s.name, 0) != s.partitions]
        return [f"topic {s.name} has {found.get(s.name, 0)} partitions, config says"
                f" {s.partitions}" for s in wrong]  # fmt: skip
    except KafkaError as exc:
        raise BusError(f"kafka admin: topic setup failed: {exc}") from exc
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Each topic's partition count (a topic just made may show none for a moment)."""
    deadline = time.monotonic() + 10.0
    while True:
        found = {t["name"]: len(t.get("partitions") or []) for t in admin.describe_topics(names)}
        if all(found.get(n) for n in names) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


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
        self._stopping = threading.Event()

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

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
            self.consumer.subscribe([self.topic], listener=_Listener(self.role))
            self.consumer.partitions_for_topic(self.topic)  # see kafka_consumer.py
        self.role.turn(self)
        records = self.consumer.poll(timeout_ms=200, max_records=500)
        finish_dropped_join(self.consumer)
        for tp, recs in records.items():
            self.role.handle(self, tp.partition, recs)
        self._positions()
        if self.error is not None:
            log.info("consume_recovered topic=%s", self.topic)
            self.error = None

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
            try:
                consumer.close(autocommit=False)
            except Exception as exc:
                log.warning("consumer_close_failed topic=%s error=%s", self.topic, exc)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, role: Role) -> None:
        self._role = role

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._role.revoked(frozenset(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._role.assigned(frozenset(tp.partition for tp in assigned))
