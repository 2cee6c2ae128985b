"""A transactional producer never waits on a broker that is gone past its bounds
(unit tests: kafka-python's producer replaced by a stand-in whose requests never
complete, as they do not while the coordinator is unreachable)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kafka.errors import KafkaError

from monitor.bus.kafka_txn import Aborted, Out, TxnProducer
from monitor.bus.kafka_txn_state import unhealthy


class Pending:
    """A transaction manager's request the broker never answers."""

    def wait(self, timeout_ms: float | None = None) -> bool:
        time.sleep((timeout_ms or 0) / 1000)
        return False


class Done:
    """A request (or a record's future) the broker answered at once."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def wait(self, timeout_ms: float | None = None) -> bool:
        return True

    def add_both(self, f: Any) -> None:
        f(self.error if self.error is not None else "metadata")


class Manager:
    def __init__(self) -> None:
        self.fatal: Exception | None = None
        self.aborts = 0
        self.commits = 0
        self.producer_id_and_epoch = (1000, 0)

    def has_fatal_error(self) -> bool:
        return self.fatal is not None

    @property
    def last_error(self) -> Exception | None:
        return self.fatal

    def is_completing(self) -> bool:
        return False

    def send_offsets_to_transaction(self, offsets: Any, group: Any) -> Pending:
        return Pending()

    def begin_commit(self) -> Pending:
        return Pending()

    def begin_abort(self) -> Pending:
        self.aborts += 1
        return Pending()


class Sender:
    def __init__(self) -> None:
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def wakeup(self) -> None:
        pass


class Stand:
    """What TxnProducer uses of kafka-python's KafkaProducer."""

    def __init__(self) -> None:
        self._transaction_manager = Manager()
        self._sender = Sender()
        self.sent: list[str] = []
        self.closed: list[float | None] = []

    def begin_transaction(self) -> None:
        pass

    def send(self, topic: str, **_: Any) -> Done:
        self.sent.append(topic)
        return Done()

    def close(self, timeout: float | None = None) -> None:
        self.closed.append(timeout)


def producer_with(stand: Stand) -> TxnProducer:
    txn = TxnProducer({"bootstrap_servers": ["127.0.0.1:9"]}, "g.stories.0")
    txn._producer = stand  # opened: init_transactions done
    return txn


RECORDS = [Out("p.stories", b"k", b"v", 0)]


def test_a_commit_the_broker_never_answers_is_given_up_at_the_stop_deadline() -> None:
    stand = Stand()
    txn = producer_with(stand)
    txn.stop_by(time.monotonic() + 0.3)
    with pytest.raises(Aborted, match="given up"):
        txn.commit(RECORDS)
    assert stand.closed == [0]  # closed at once, not aborted (an abort would wait too)
    assert stand._transaction_manager.aborts == 0
    with pytest.raises(Aborted, match="stopping"):  # and no new producer while stopping
        txn.open()


def test_a_commit_in_progress_is_given_up_when_the_producer_is_abandoned() -> None:
    stand = Stand()
    txn = producer_with(stand)
    failed: list[BaseException] = []

    def commit() -> None:
        try:
            txn.commit(RECORDS, {"tp": 1}, "group")
        except Aborted as exc:
            failed.append(exc)

    thread = threading.Thread(target=commit)
    thread.start()
    txn.abandon()  # another thread: the role leaving
    thread.join(30)
    assert not thread.is_alive()
    assert len(failed) == 1
    assert 0 in stand.closed


def test_a_sender_thread_that_dies_during_a_commit_fails_its_wait() -> None:
    stand = Stand()
    txn = producer_with(stand)
    manager = stand._transaction_manager

    def dies() -> Pending:  # e.g. "Cannot reset producer state" after an outage
        stand._sender.alive = False
        return Pending()

    manager.begin_commit = dies  # type: ignore[method-assign]
    with pytest.raises(Aborted, match="sender thread is gone"):
        txn.commit(RECORDS)
    assert unhealthy(stand) == "its sender thread is gone"
    assert stand.closed == [0]  # not aborted through a sender that is gone
    assert manager.aborts == 0
    assert txn._producer is None  # the next open() makes another one


def test_a_fatal_error_is_unhealthy_and_an_unhealthy_producer_is_replaced_on_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand = Stand()
    txn = producer_with(stand)
    stand._transaction_manager.fatal = KafkaError("fenced meanwhile")
    assert unhealthy(stand) is not None and "fatal error" in str(unhealthy(stand))
    made: list[Stand] = []

    class Fresh(Stand):
        def init_transactions(self) -> None:
            made.append(self)

    monkeypatch.setattr("monitor.bus.kafka_txn.KafkaProducer", lambda **_: Fresh())
    txn.open()
    assert stand.closed == [0]
    assert len(made) == 1 and txn._producer is made[0]


def test_a_fenced_producer_is_not_rebuilt_it_reports_the_fence() -> None:
    from kafka.errors import ProducerFencedError

    from monitor.bus.kafka_txn import Fenced

    stand = Stand()
    txn = producer_with(stand)
    stand._transaction_manager.fatal = ProducerFencedError()  # another owner's init
    with pytest.raises(Fenced):  # rebuilding would fence the new owner back
        txn.commit(RECORDS)
    assert stand.closed == [0]
    assert stand.sent == []


def test_a_fence_that_lands_between_the_check_and_the_send_is_a_fence() -> None:
    """The sender thread may take the fence (AddPartitionsToTxn) after the check before a
    send and before the send: kafka-python's send then raises a bare KafkaError ("Cannot
    perform send because at least one previous transactional or idempotent request has
    failed"). Taken for an abort, the retry's new producer fenced the owner back and the
    partition went on from a view never rebuilt (seen in CI)."""
    from kafka.errors import ProducerFencedError

    from monitor.bus.kafka_txn import Fenced

    class FencedOnSend(Stand):
        def send(self, topic: str, **_: Any) -> Done:
            self._transaction_manager.fatal = ProducerFencedError()
            raise KafkaError("Cannot perform send because at least one previous"
                             " transactional or idempotent request has failed with errors.",
                             ProducerFencedError())  # fmt: skip

    stand = FencedOnSend()
    txn = producer_with(stand)
    with pytest.raises(Fenced, match="fenced by a newer owner"):
        txn.commit(RECORDS)
    assert stand.closed == [0]  # closed, not aborted: the next owner's epoch stands
    assert stand._transaction_manager.aborts == 0
