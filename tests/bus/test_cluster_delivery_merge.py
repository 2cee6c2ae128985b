"""The delivery owner's local view, without a broker: an outbox record is applied as the
memory bus applies a decision; every change reaches the partition's writer, in order;
a send waits for its attempt to be recorded, and one the last owner may have made is
counted; a takeover merges the changelog with what the state file kept."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from support.records import alert, story

from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed
from monitor.bus.kafka_txn import Out
from monitor.cluster import delivery_changelog as changelog
from monitor.cluster.delivery_outbox import ClusterOutbox
from monitor.cluster.stories_intents import Intent
from monitor.metrics import Metrics
from monitor.store import DeliveryRow, OutboxRow, Store

GROUPED = Routed("desk", "0", group_wait=30.0, group_by=("story",))


class Writer:
    """Stands in for a partition's changelog writer: keeps what it is given."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.records: list[Out] = []
        self.fail = fail

    def submit(self, records: list[Out], *_: Any) -> Future[None]:
        self.records += records
        done: Future[None] = Future()
        if self.fail:
            done.set_exception(self.fail)
        else:
            done.set_result(None)
        return done

    def keys(self) -> list[str]:
        return [r.key.decode() for r in self.records]


def owner(serving: bool = True) -> tuple[ClusterOutbox, Writer, Metrics]:
    metrics = Metrics(CollectorRegistry())
    metrics.init_receivers(["desk"])
    outbox = ClusterOutbox(Store(":memory:"), "p.deliveries", 3, metrics, 48 * 3600.0)
    writer = Writer()
    outbox.writers[outbox.partition("desk")] = writer  # type: ignore[assignment]
    if serving:
        outbox.serving.add("desk")
    return outbox, writer, metrics


def test_an_outbox_record_is_applied_as_the_memory_bus_enqueues() -> None:
    now = time.time()
    cluster, _, _ = owner()
    memory = Outbox(Store(":memory:"))
    made, told = alert("desk"), story()
    out = cluster.ingest(Intent("desk", now, told, ((GROUPED, made),)))
    memory.enqueue([(GROUPED, made)], now)
    assert cluster.store.outbox() == memory.store.outbox()  # the same row, due in 30 s
    assert cluster.story("story1") == told  # what its alert renders from
    keys = [r.key.decode() for r in out]
    assert keys == ["s:story1", f"a:{made.alert_id}"]  # with the ingest's offsets, not apart
    assert {r.partition for r in out} == {cluster.partition("desk")}
    again = cluster.ingest(Intent("desk", now + 1, story(), ((GROUPED, made),)))
    assert [r.key.decode() for r in again] == ["s:story1"]  # the same decision: absorbed


def test_a_receiver_not_served_sends_nothing() -> None:
    cluster, _, _ = owner(serving=False)
    cluster.ingest(
        Intent("desk", time.time() - 60, story(), ((Routed("desk", "0"), alert("desk")),))
    )
    assert cluster.next_batch("desk", time.time()) == []
    assert cluster.next_due() is None and cluster.pending_count() == 0
    cluster.serving.add("desk")
    assert len(cluster.next_batch("desk", time.time())) == 1
    cluster.silences_loaded = lambda: False
    assert cluster.next_batch("desk", time.time()) == []  # not before the silences are in


async def test_a_send_waits_for_its_attempt_and_counts_a_possible_repeat() -> None:
    cluster, writer, metrics = owner()
    made = alert("desk")
    cluster.ingest(Intent("desk", time.time(), story(), ((Routed("desk", "0"), made),)))
    (row,) = cluster.next_batch("desk", time.time())
    cluster.attempted.add(row.alert_id)  # the last owner began sending it
    assert await cluster.attempting([row])
    (marked,) = writer.records
    assert marked.key.decode() == f"a:{row.alert_id}"
    assert changelog.decode({marked.key: marked.value or b""}).attempted == {row.alert_id}
    resent = metrics.registry.get_sample_value("newsmon_deliveries_resent_total",
                                               {"receiver": "desk"})  # fmt: skip
    assert resent == 1
    cluster.sent([row], time.time(), [made])
    last = changelog.decode({r.key: r.value or b"" for r in writer.records})
    assert last.rows[row.alert_id].state == "sent" and last.attempted == set()
    assert ("story1", "desk") in last.told  # what the receiver was told, beside it
    assert await cluster.attempting([row])  # sent again, by hand: not counted twice
    assert metrics.registry.get_sample_value("newsmon_deliveries_resent_total",
                                             {"receiver": "desk"}) == 1  # fmt: skip


async def test_a_send_whose_attempt_cannot_be_recorded_does_not_go() -> None:
    from monitor.bus.kafka_txn import Fenced

    cluster, _, _ = owner()
    cluster.writers[cluster.partition("desk")] = Writer(Fenced("taken"))  # type: ignore[assignment]
    cluster.ingest(Intent("desk", time.time(), story(), ((Routed("desk", "0"), alert("desk")),)))
    (row,) = cluster.next_batch("desk", time.time())
    assert not await cluster.attempting([row])
    cluster.serving.clear()
    assert not await cluster.attempting([row])  # the partition left meanwhile


def test_stories_unchanged_for_a_window_are_forgotten_with_tombstones() -> None:
    cluster, _, _ = owner()
    now = time.time()
    cluster.ingest(Intent("desk", now, story(), ((Routed("desk", "0"), alert("desk")),)))
    assert cluster.evict(now + 3600) == []
    (gone,) = cluster.evict(now + 48 * 3600 + 3601)
    assert (gone.key, gone.value, gone.partition) == (b"s:story1", None, cluster.partition("desk"))
    assert cluster.story("story1") is None


ROW = OutboxRow("a1", "s1", "desk", "pending", "{}", "alert:a1", 1.0, 2.0, 1, None, 3.0)


@pytest.mark.parametrize(
    ("local", "shared", "kept"),
    [
        (None, ROW, "shared"),
        (ROW, None, "local"),
        (replace(ROW, state="sent"), ROW, "local"),  # this daemon sent it; Kafka missed that
        (ROW, replace(ROW, state="sent"), "shared"),  # another owner sent it since
        (replace(ROW, attempts=3, updated=9.0), ROW, "local"),  # tried more since
        (ROW, replace(ROW, attempts=2, updated=5.0), "shared"),
        (ROW, ROW, "shared"),
    ],
)
def test_a_takeover_keeps_the_row_that_knows_more(
    local: OutboxRow | None, shared: OutboxRow | None, kept: str
) -> None:
    chosen = changelog.pick(local, shared)
    assert chosen is (local if kept == "local" else shared)


def test_what_a_receiver_was_told_keeps_the_latest() -> None:
    old = DeliveryRow("s1", "desk", (("ts", "1.0"),), 1, 1.0, 1, 1.0)
    new = replace(old, shown=3, told=3, told_at=5.0)
    assert changelog.pick_told(old, new) is new and changelog.pick_told(new, old) is new


def test_changelog_records_read_back() -> None:
    told = DeliveryRow("s1", "desk", (("channel", "C1"), ("ts", "17.2")), 2, 4.0, 2, 4.0, 4.0)
    kept = story()
    records = {
        changelog.row_key("a1"): changelog.row_value(ROW, attempt=5.0),
        changelog.told_key("s1", "desk"): changelog.told_value(told),
        changelog.story_key("story1"): changelog.story_value(kept),
        changelog.flushed("group:desk:0", 7.0)[0]: changelog.flushed("group:desk:0", 7.0)[1],
        changelog.blocked("desk", 9.0)[0]: changelog.blocked("desk", 9.0)[1],
        b"a:broken": b"{",
    }
    got = changelog.decode(records)
    assert got.rows == {"a1": ROW} and got.attempted == {"a1"}
    assert got.told == {("s1", "desk"): told}
    assert got.stories == {"story1": kept}
    assert (got.flushed, got.blocked, got.unreadable) == ({"group:desk:0": 7.0}, {"desk": 9.0}, 1)
