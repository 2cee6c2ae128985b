"""The outbox at scale and over time: batches found by index in due order, digest
times joined, and the memory of past digests bounded."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import alert

from monitor.alerts.outbox import FLUSH_MEMORY, MAX_BATCH, Outbox
from monitor.alerts.route import Routed
from monitor.store import OutboxRow, Store

NOW = 1_000_000.0


def pending_rows(rng: random.Random) -> list[OutboxRow]:
    """5,000 pending alerts of ``slack`` in 100 groups (one of 300), due around NOW;
    plus other receivers' and other states' rows due earlier, to be left alone."""
    rows = []
    sizes = [300] + [4700 // 99] * 98 + [4700 - 98 * (4700 // 99)]
    for g, size in enumerate(sizes):
        for i in range(size):
            due = NOW + rng.uniform(-500, 500)
            created = due - rng.uniform(0, 100)
            rows.append(OutboxRow(f"s{g}-{i}", f"story{g}", "slack", "pending", "{}",
                                  f"group:slack:0:story=story{g}", created, due))  # fmt: skip
    for i in range(200):
        due = NOW - 10_000 + i
        rows.append(OutboxRow(f"m{i}", "m", "mail", "pending", "{}", "group:mail:0", due, due))
        rows.append(OutboxRow(f"d{i}", "d", "slack", "dead", "{}", "group:slack:0:story=dead",
                              due, due))  # fmt: skip
    rng.shuffle(rows)
    return rows


def expected_batch(rows: dict[str, OutboxRow], receiver: str, now: float) -> list[str]:
    due = sorted(
        (r for r in rows.values()
         if r.receiver == receiver and r.state == "pending" and r.due <= now),
        key=lambda r: (r.due, r.created),
    )  # fmt: skip
    if not due:
        return []
    return [r.alert_id for r in due if r.group_key == due[0].group_key][:MAX_BATCH]


def test_next_batch_and_pending_count_with_5000_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    rows = {r.alert_id: r for r in pending_rows(rng)}
    with Store(tmp_path / "s.db") as store:
        store.outbox_add(rows.values())
        outbox = Outbox(store)
        listing = store.outbox
        monkeypatch.setattr(store, "outbox", None)  # the hot path never loads every row
        assert outbox.pending_count() == 5000 + 200
        sizes = set()
        for step in range(60):  # the receiver's batches, one after another, as they fall due
            now = NOW + step * 20
            batch = outbox.next_batch("slack", now)
            assert [r.alert_id for r in batch] == expected_batch(rows, "slack", now)
            assert all(r.due <= now and r.state == "pending" for r in batch)
            sizes.add(len(batch))
            outbox.sent(batch, now)
            rows.update({r.alert_id: replace(r, state="sent") for r in batch})
        assert MAX_BATCH in sizes  # the big group came out in digests of at most MAX_BATCH
        sent = sum(r.state == "sent" for r in rows.values())
        assert outbox.pending_count() == 5200 - sent
        assert outbox.next_batch("slack", NOW - 10_000) == []  # nothing due yet
        outbox.enqueue([(Routed("slack", "0", group_wait=5.0), alert("slack"))], NOW)
        monkeypatch.setattr(store, "outbox", listing)
        assert len(outbox.entries("pending")) == 5201 - sent  # `newsmon alerts` lists them


def test_a_new_alert_joins_its_groups_pending_digest(tmp_path: Path) -> None:
    r = Routed("slack", "0", group_wait=30.0, group_interval=300.0)
    with Store(tmp_path / "s.db") as store:
        outbox = Outbox(store)
        for n in range(1, 2001):  # many other pending groups around it
            other = Routed("slack", f"9.{n}", group_wait=5.0)
            outbox.enqueue([(other, alert("slack", n=10_000 + n))], NOW - n)
        outbox.enqueue([(r, alert("slack", n=1))], NOW)
        outbox.enqueue([(r, alert("slack", n=2))], NOW + 10)
        group = [e for e in store.outbox("pending") if e.group_key == "group:slack:0"]
        assert [e.due for e in group] == [NOW + 30, NOW + 30]
        outbox.sent(group, NOW + 31)
        outbox.enqueue([(r, alert("slack", n=3))], NOW + 40)
        (third,) = [e for e in store.outbox("pending") if e.group_key == "group:slack:0"]
        assert third.due == NOW + 31 + 300  # group_interval after the last digest


BY_STORY = Routed("slack", "0", group_wait=1.0, group_interval=60.0, group_by=("story",))


def test_digest_times_are_forgotten_a_day_on(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        outbox = Outbox(store)
        outbox.enqueue([(BY_STORY, alert("slack", n=n)) for n in range(1, 301)], NOW)
        outbox.sent(store.outbox("pending"), NOW)
        assert len(outbox._last_flush) == 300  # one per story group
        later = NOW + FLUSH_MEMORY + 1
        outbox.enqueue([(BY_STORY, alert("slack", n=1000))], later)
        outbox.sent(store.outbox("pending"), later)
        assert set(outbox._last_flush) == {"group:slack:0:story=story1000"}


def test_digest_times_are_kept_as_long_as_the_longest_interval(tmp_path: Path) -> None:
    slow = Routed("slack", "1", group_interval=2 * 86400.0)  # one digest per two days
    with Store(tmp_path / "s.db") as store:
        outbox = Outbox(store)

        def send_all(at: float) -> None:
            outbox.sent(store.outbox("pending"), at)

        outbox.enqueue([(BY_STORY, alert("slack", n=n)) for n in range(1, 301)], NOW)
        outbox.enqueue([(slow, alert("slack", n=1000))], NOW)
        send_all(NOW)
        day = NOW + FLUSH_MEMORY + 3600  # a day on: the slow group's last digest still counts
        outbox.enqueue([(BY_STORY, alert("slack", n=2000))], day)
        send_all(day)
        assert len(outbox._last_flush) == 302
        outbox.enqueue([(slow, alert("slack", n=1001))], day)
        (waiting,) = store.outbox("pending")
        assert waiting.due == NOW + 2 * 86400  # spaced from the digest a day ago

        two_days = NOW + 2 * 86400 + 3600
        send_all(two_days)
        assert set(outbox._last_flush) == {"group:slack:1", "group:slack:0:story=story2000"}
