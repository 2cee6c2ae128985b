"""Hanging transactions: open on a partition, and no coordinator will ever end them.

A broker that stops while a transaction is being written can keep a partition's part of
it (a TxnOffsetCommit in ``__consumer_offsets``, records in a changelog) and lose the
coordinator's record of it: after the restart the coordinator holds the transactional id
as complete, the producer's next ``init_transactions`` bumps the epoch and aborts
nothing, and the partition keeps an open transaction no marker will close. Its
consumers wait on it: ``read_committed`` reads stop at it, and fetching the group's
committed offsets answers ``UNSTABLE_OFFSET_COMMIT`` forever (seen after a broker
restart: the delivery role of a partition stalled for good).

:func:`abort_hanging` finds such transactions on the partitions a role is about to
depend on and aborts them, as ``kafka-transactions.sh abort`` does (KIP-664). Only
what no producer can finish is aborted: a transaction whose producer's epoch is below
the one its coordinator (or this daemon's producer, just initialised) holds now: that
producer was fenced, its epoch can write nothing more; or one whose producer id no
coordinator knows any more. A transaction its producer may still commit is left alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import AbortTransactionSpec
from kafka.errors import KafkaError

from monitor.errors import BusError

log = logging.getLogger(__name__)

OFFSETS_TOPIC = "__consumer_offsets"
ADMIN_WAIT_MS = 10_000  # each admin request's bound


@dataclass(frozen=True, slots=True)
class Hanging:
    partition: TopicPartition
    producer_id: int
    producer_epoch: int
    start_offset: int  # the open transaction's first offset in the partition
    coordinator_epoch: int  # of the last marker the partition took for this producer
    why: str


def group_partition(group: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of ``group``: Kafka's
    ``Utils.abs(group.hashCode()) % partitions`` (Java's String.hashCode)."""
    h = 0
    units = group.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return 0 if signed == -(1 << 31) else abs(signed) % partitions


def abort_hanging(
    kafka: dict[str, Any], partitions: Iterable[TopicPartition], groups: Sequence[str] = (),
    current: Mapping[int, int] | None = None,
) -> list[Hanging]:  # fmt: skip
    """Abort the hanging transactions on ``partitions`` and on the ``__consumer_offsets``
    partitions of ``groups``; those aborted. ``current`` maps a producer id to the epoch
    this daemon's producer holds now (known without asking its coordinator).
    :class:`BusError` if the broker cannot be asked."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=kafka["bootstrap_servers"],
                                 client_id=kafka.get("client_id", "newsmon-admin"),
                                 request_timeout_ms=ADMIN_WAIT_MS)  # fmt: skip
    except KafkaError as exc:
        raise BusError(f"hanging transactions: {exc}") from exc
    try:
        tps = list(partitions)
        if groups:
            count = len(admin.describe_topics([OFFSETS_TOPIC])[0]["partitions"])
            tps += [TopicPartition(OFFSETS_TOPIC, group_partition(g, count)) for g in groups]
        found = find_hanging(admin, tps, dict(current or {}))
        for h in found:
            # the partition fences a marker of an older coordinator epoch than its last
            # one (TRANSACTION_COORDINATOR_FENCED): -1 is refused once a marker was written
            admin.abort_transaction(AbortTransactionSpec(h.partition, h.producer_id,
                                                         h.producer_epoch,
                                                         h.coordinator_epoch))  # fmt: skip
            log.warning("hanging_transaction_aborted topic=%s partition=%d producer_id=%d"
                        " epoch=%d start_offset=%d (%s)", h.partition.topic, h.partition.partition,
                        h.producer_id, h.producer_epoch, h.start_offset, h.why)  # fmt: skip
        return found
    except (KafkaError, IndexError, KeyError) as exc:
        raise BusError(f"hanging transactions: {type(exc).__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def find_hanging(
    admin: Any, partitions: Sequence[TopicPartition], current: dict[int, int]
) -> list[Hanging]:
    """The open transactions on ``partitions`` that no producer can end (see the module
    docstring); ``current`` is completed with what the coordinators answer."""
    found = []
    for tp, state in admin.describe_producers(list(dict.fromkeys(partitions))).items():
        for p in state.active_producers:
            if p.current_transaction_start_offset < 0:
                continue  # no transaction open
            why = _why(admin, p.producer_id, p.producer_epoch, current)
            if why is not None:
                found.append(Hanging(tp, p.producer_id, p.producer_epoch,
                                     p.current_transaction_start_offset, p.coordinator_epoch,
                                     why))  # fmt: skip
    return found


def _why(admin: Any, producer_id: int, epoch: int, current: dict[int, int]) -> str | None:
    """Why the transaction of (``producer_id``, ``epoch``) can never end, or None."""
    if producer_id not in current:
        listed = admin.list_transactions(producer_id_filters=[producer_id])
        ids = [t.transactional_id for ts in listed.values() for t in ts
               if t.producer_id == producer_id]  # fmt: skip
        if not ids:
            return "its producer id is no transactional id's any more"
        described = admin.describe_transactions(ids[:1])
        for d in described.values():
            if d.producer_id == producer_id:
                current[producer_id] = d.producer_epoch
        if producer_id not in current:
            return None  # the id moved on meanwhile: asked again next time
    if current[producer_id] > epoch:
        return f"its producer was fenced: epoch {current[producer_id]} now"
    return None
