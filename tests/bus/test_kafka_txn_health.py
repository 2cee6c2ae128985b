"""A transactional producer that cannot be trusted any more is closed and made again,
and a transaction kafka-python would call committed but the broker did not keep is
reported aborted (unit tests: kafka-python's producer replaced by a stand-in).

The cases are the ones seen after a broker restart: a batch that expired while the
broker was away (kafka-python 3.0.12 commits the transaction without it), an epoch
bumped under the transaction (the broker aborted it; kafka-python answers the EndTxn
queued meanwhile as a success and its sender logs "Invalid transition attempted from
state READY to state READY"), a sender thread gone between two transactions."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from test_kafka_txn_bounds import RECORDS, Done, Manager, Stand, producer_with

from monitor.bus.kafka_txn import Aborted, TxnProducer


class Answering(Manager):
    """A transaction manager whose requests the broker answers at once."""

    def __init__(self, bump: bool = False) -> None:
        super().__init__()
        self.bump = bump

    def send_offsets_to_transaction(self, offsets: Any, group: Any) -> Done:  # type: ignore[override]
        return Done()

    def begin_commit(self) -> Done:  # type: ignore[override]
        self.commits += 1
        if self.bump:  # KIP-360 bump meanwhile: the broker aborted the transaction
            epoch = self.producer_id_and_epoch
            self.producer_id_and_epoch = (epoch[0], epoch[1] + 1)
        return Done()


class Live(Stand):
    def __init__(self, manager: Manager | None = None, failed: Exception | None = None) -> None:
        super().__init__()
        self._transaction_manager = manager or Answering()
        self.failed = failed
        self.inits = 0

    def init_transactions(self) -> None:
        self.inits += 1

    def send(self, topic: str, **_: Any) -> Done:
        self.sent.append(topic)
        return Done(self.failed)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> list[Live]:
    """The producers TxnProducer makes from now on (each one healthy)."""
    made: list[Live] = []

    def make(**_: Any) -> Live:
        made.append(Live())
        return made[-1]

    monkeypatch.setattr("monitor.bus.kafka_txn.KafkaProducer", make)
    return made


def committed_through(txn: TxnProducer, made: list[Live]) -> None:
    """Commit again: through one new producer, its transactions initialised first."""
    txn.commit(RECORDS, {"tp": 1}, "group")
    assert len(made) == 1
    new: Live = made[0]
    assert txn._producer is new
    assert new.inits == 1 and new._transaction_manager.commits == 1
    assert new.sent == ["p.stories"]


def test_a_record_not_stored_aborts_the_transaction_before_its_commit(fresh: list[Live]) -> None:
    expired = KafkaTimeoutError("Expiring 17 record(s): 30006 ms has passed since batch creation")
    stale = Live(failed=expired)
    txn = producer_with(stale)
    with pytest.raises(Aborted, match="not stored"):
        txn.commit(RECORDS, {"tp": 1}, "group")
    assert stale._transaction_manager.commits == 0  # EndTxn never asked for
    assert stale.closed == [0] and txn._producer is None  # not used again
    committed_through(txn, fresh)


def test_an_epoch_bumped_under_the_transaction_is_not_taken_for_a_commit(
    fresh: list[Live],
) -> None:
    stale = Live(Answering(bump=True))
    txn = producer_with(stale)
    with pytest.raises(Aborted, match="epoch bumped"):
        txn.commit(RECORDS, {"tp": 1}, "group")
    assert stale._transaction_manager.commits == 1
    assert stale.closed == [0] and txn._producer is None
    committed_through(txn, fresh)


def test_a_sender_thread_gone_between_transactions_is_replaced_before_the_next(
    fresh: list[Live],
) -> None:
    stale = Live()
    txn = producer_with(stale)
    txn.commit(RECORDS)
    assert stale._transaction_manager.commits == 1 and fresh == []
    stale._sender.alive = False  # e.g. an uncaught error on kafka-python's I/O thread
    committed_through(txn, fresh)
    assert stale.closed == [0]  # closed at once, with timeout 0
    assert stale.sent == ["p.stories"]  # nothing of the second transaction went to it


def test_a_healthy_producer_commits_without_being_rebuilt(fresh: list[Live]) -> None:
    stand = Live()
    txn = producer_with(stand)
    for _ in range(3):
        txn.commit(RECORDS, {"tp": 1}, "group")
    assert stand._transaction_manager.commits == 3
    assert stand.closed == [] and fresh == []
