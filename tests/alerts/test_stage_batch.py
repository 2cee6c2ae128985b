"""The stories stage handles the matches waiting in batches, one store transaction
each: a batch is durable whole or not at all, its messages are acked only after it
committed, a failing store stalls it (rolled back, the book reloaded, handled again:
the same stories, no phantom), and one bad match is dead-lettered alone."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from support import records

from monitor import alerting
from monitor.alerting import StoriesStage, run_stage
from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Router
from monitor.bus import MATCHES
from monitor.bus.memory import MemoryBus
from monitor.dedup.stories import StoryBook
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.model import Match
from monitor.store import Store

NOW = 1_562_911_500.0  # 2019-07-12 06:05 UTC, the items' published time
TITLES = ["Russia to share S-400 technology with Turkey",
          "Pentagon halts F-35 deliveries to Turkey over S-400",
          "Erdogan says S-400 deliveries to start within days",
          "Russia to share S-400 technology with Turkey, says Rostec"]  # fmt: skip


def matches() -> list[Match]:
    """Three stories; the fourth item is a copy of the first."""
    return [records.match(records.item(n, title=t)) for n, t in enumerate(TITLES)]


def stage(store: Store) -> StoriesStage:
    book, outbox = StoryBook(store), Outbox(store)
    made = StoriesStage(book, Router(None, ["desk"]), outbox, Metrics(CollectorRegistry()),
                        lambda _: None)  # fmt: skip
    outbox.story = made.story
    return made


def stored(path: Path) -> tuple[int, int, list[str]]:
    """Stories, members and outbox rows as another reader of the file sees them."""
    db = sqlite3.connect(path)
    try:
        stories = db.execute("SELECT count(*) FROM stories").fetchone()[0]
        members = db.execute("SELECT count(*) FROM story_members").fetchone()[0]
        rows = [r[0] for r in db.execute("SELECT alert_id FROM outbox ORDER BY alert_id")]
    finally:
        db.close()
    return stories, members, rows


def fail_outbox_inserts(store: Store) -> None:
    """A real SQLite error on the next outbox row (as a full disk would give)."""
    store._db.execute(
        "CREATE TEMP TRIGGER full BEFORE INSERT ON outbox"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )


def test_a_batch_is_one_transaction_visible_whole_when_it_commits(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        s = stage(store)
        with store.batch():
            assert s.handle_batch(matches(), NOW) == [None] * 4
            assert stored(path) == (0, 0, [])  # nested: the outer batch commits
        stories, members, rows = stored(path)
    assert (stories, members) == (3, 4)
    assert len(rows) == 4  # three first alerts and the copy's story update


def test_a_failing_store_rolls_the_batch_back_and_the_retry_makes_the_same_stories(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "once.db") as store:
        s = stage(store)
        s.handle_batch(matches(), NOW)
        want = sorted((len(x.members), x.story_id) for x in s.book._live.values())
    path = tmp_path / "state.db"
    with Store(path) as store:
        s = stage(store)
        fail_outbox_inserts(store)
        with pytest.raises(StoreError, match="disk is full"):
            s.handle_batch(matches(), NOW)
        assert stored(path) == (0, 0, [])
        assert s.book._live == {}  # memory went back to what the store holds
        store._db.execute("DROP TRIGGER full")
        assert s.handle_batch(matches(), NOW) == [None] * 4
        got = sorted((len(x.members), x.story_id) for x in s.book._live.values())
        assert got == want  # the copy joins its story once: nothing of the first try left
        assert stored(path)[:2] == (3, 4)


def test_a_write_that_fails_inside_a_batch_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        with store.batch():
            store.mark_sent("a1", "s1", "desk", NOW)
            with pytest.raises(RuntimeError), store._tx() as db:
                db.execute("INSERT INTO sent_alerts (alert_id, story_id, receiver, sent_at)"
                           " VALUES ('a2', 's2', 'desk', 0)")  # fmt: skip
                raise RuntimeError("a bug after the write")
            store.mark_sent("a3", "s3", "desk", NOW)
        assert store.was_sent("a1") and store.was_sent("a3")
        assert not store.was_sent("a2")


async def test_the_loop_acks_after_commit_and_dead_letters_a_bad_match_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(alerting, "STALL_BACKOFF", 0.01)
    caplog.set_level(logging.INFO, "monitor.alerting")
    path = tmp_path / "state.db"
    with Store(path) as store:
        s = stage(store)
        fail_outbox_inserts(store)
        async with MemoryBus() as bus:
            for n, m in enumerate(matches()):
                await bus.publish(MATCHES, f"k{n}", m)
            await bus.publish(MATCHES, "odd", records.item(9))  # not a match
            loop = asyncio.create_task(run_stage(bus, s, "alerts"))
            while "stage_stalled" not in caplog.text:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # a few attempts more
            assert bus.depth(MATCHES) == 5  # stalled on the store: nothing acked ...
            assert stored(path) == (0, 0, [])  # ... nothing kept
            store._db.execute("DROP TRIGGER full")
            await asyncio.wait_for(bus.drain(MATCHES), 30)
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        assert stored(path)[:2] == (3, 4)
    assert "stage_resumed" in caplog.text
    errors = [r.getMessage() for r in caplog.records if "stage_error" in r.getMessage()]
    assert len(errors) == 1 and "key=odd" in errors[0] and "a Item" in errors[0]
