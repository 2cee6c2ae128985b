"""A transactional producer's health, as kafka-python 3.0.12 lets it be seen.

What :class:`~monitor.bus.kafka_txn.TxnProducer` checks before it trusts a commit: the
sender thread alive and no fatal error (:func:`unhealthy`), every record of the
transaction acknowledged (:class:`Acks`), and the producer's epoch unchanged under the
transaction (:func:`same_epoch`). The last two work around kafka-python, which can
report a transaction committed that the broker aborted or that lacks records.
"""

from __future__ import annotations

import threading
from typing import Any

from kafka.errors import KafkaError, ProducerFencedError


class Lost(KafkaError):  # type: ignore[misc]
    """Part of an open transaction was lost under it (a record not stored, the epoch
    bumped): it must not commit, and the producer that lost it is not used again."""


class Acks:
    """The records a transaction sent, as one request :meth:`TxnProducer._wait` waits
    for: done once each is acknowledged; it raises the first failure.

    kafka-python 3.0.12 lets a transactional batch that failed for good (its delivery
    timeout passed while the broker was away: a retriable error, no state change) go
    unnoticed: the transaction commits without it. Java's producer makes that an
    abortable error; here, a transaction commits only once every record it sent is
    acknowledged."""

    def __init__(self) -> None:
        self._left = 0
        self._error: BaseException | None = None
        self.last: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset stored
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._done.set()

    def add(self, future: Any) -> None:
        with self._lock:
            self._left += 1
            self._done.clear()
        future.add_both(self._settle)  # called at once if done already

    def _settle(self, outcome: Any) -> None:  # on the sender thread
        with self._lock:
            if isinstance(outcome, BaseException):
                if self._error is None:
                    self._error = outcome
            elif (offset := getattr(outcome, "offset", None)) is not None:
                where = (outcome.topic, outcome.partition)
                self.last[where] = max(offset, self.last.get(where, -1))
            self._left -= 1
            if self._left == 0:
                self._done.set()

    def wait(self, timeout_ms: float | None = None) -> bool:
        done = self._done.wait(None if timeout_ms is None else timeout_ms / 1000)
        error = self._error
        if isinstance(error, ProducerFencedError):
            raise error
        if error is not None:
            raise Lost(f"a record of the transaction was not stored: {error!r}")
        return done


def same_epoch(manager: Any, epoch: Any) -> None:
    """Raise :class:`Lost` if the producer's epoch changed since ``epoch``.

    kafka-python 3.0.12 bumps a transactional producer's epoch (KIP-360) when a
    batch fails on a sequence or producer-id error, as after a broker restart.
    The broker aborts the open transaction then, but the client goes back to READY
    and answers the EndTxn queued meanwhile as a success without sending it
    (``TransactionManager.next_request_handler``, which then raises "Invalid
    transition attempted from state READY to state READY" on the sender thread).
    A transaction whose epoch changed under it is not committed, whatever the
    client says. (kafka-python speaks transaction version 1, EndTxn v3 at most: the
    epoch stays the same from one transaction to the next; version 2, KIP-890, bumps
    it at every commit, and this check would have to compare against that.)"""
    if manager.producer_id_and_epoch != epoch:
        raise Lost(f"epoch bumped under the transaction ({epoch} ->"
                   f" {manager.producer_id_and_epoch}): the broker aborted it")  # fmt: skip


def unhealthy(producer: Any) -> str | None:
    """Why a transactional producer cannot complete a transaction any more, or None."""
    manager = producer._transaction_manager
    if manager is not None and manager.has_fatal_error():
        return f"fatal error: {manager.last_error!r}"
    sender = producer._sender
    if sender is None or not sender.is_alive():
        return "its sender thread is gone"
    return None


def unmapped(producer: Any) -> bool:
    """Whether the coordinator answered with an error kafka-python does not know and
    took for fatal, its sender still running (not an outage). On Apache Kafka 4 a fence
    met by EndTxn comes back so (``Unhandled error in EndTxnResponse: UnknownError``):
    whether the transaction committed is not known, so the owner drops its view of the
    partition and rebuilds it from the changelog, as after a fence."""
    manager = producer._transaction_manager
    if manager is None or not manager.has_fatal_error():
        return False
    sender = producer._sender
    return type(manager.last_error) is KafkaError and sender is not None and sender.is_alive()


def fenced(producer: Any) -> bool:
    """Whether a newer producer with the same transactional id fenced this one."""
    manager = producer._transaction_manager
    error = manager.last_error if manager is not None and manager.has_fatal_error() else None
    return isinstance(error, ProducerFencedError) or error is ProducerFencedError


def healthy(producer: Any) -> bool:
    return unhealthy(producer) is None
