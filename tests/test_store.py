from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import Item
from monitor.store import (
    ERRORS_KEPT_PER_FEED,
    MIGRATIONS,
    OUTBOX_FIRST_DUE,
    OUTBOX_GROUP_DUE,
    OUTBOX_GROUP_MIN_DUE,
    OUTBOX_PENDING,
    FeedState,
    MemberRow,
    OutboxRow,
    Store,
    StoryRow,
)


def test_fresh_store_is_wal_and_at_latest_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)
    mode = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_store_newer_than_code_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this newsmon"):
        Store(tmp_path / "s.db")


def test_feed_state_round_trips_and_survives_reopen(tmp_path: Path) -> None:
    state = FeedState(
        url="https://a.example/rss",
        etag='"v1"',
        last_modified="Tue, 01 Jan 2030",
        next_poll=123.5,
        interval=300.0,
        consecutive_errors=2,
        last_reason="timeout",
    )
    with Store(tmp_path / "s.db") as store:
        assert store.feed_state(state.url) == FeedState(url=state.url)
        store.save_feed_state(state)
    with Store(tmp_path / "s.db") as store:
        assert store.feed_state(state.url) == state
        assert store.feed_states() == [state]


def test_seen_items_filter_and_persist(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.unseen("f", ["a", "b", "a", "c"]) == ["a", "b", "c"]
        store.mark_seen("f", ["a", "b"], at=1.0)
        assert store.unseen("f", ["a", "b", "c"]) == ["c"]
        assert store.unseen("other-feed", ["a"]) == ["a"]  # seen is per feed
    with Store(tmp_path / "s.db") as store:
        assert store.unseen("f", ["a", "c"]) == ["c"]


def test_seen_filter_handles_more_ids_than_one_query_takes(tmp_path: Path) -> None:
    ids = [f"id{i}" for i in range(1500)]
    with Store(tmp_path / "s.db") as store:
        store.mark_seen("f", ids[::2], at=1.0)
        assert store.unseen("f", ids) == ids[1::2]


def test_forget_seen_before_drops_only_old_marks(tmp_path: Path) -> None:
    now = datetime(2030, 1, 10, tzinfo=UTC)
    with Store(tmp_path / "s.db") as store:
        store.mark_seen("f", ["old"], at=(now - timedelta(days=100)).timestamp())
        store.mark_seen("f", ["new"], at=(now - timedelta(days=1)).timestamp())
        assert store.forget_seen_before(now - timedelta(days=90)) == 1
        assert store.unseen("f", ["old", "new"]) == ["old"]


def test_feed_error_history_is_kept_and_bounded(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for n in range(ERRORS_KEPT_PER_FEED + 10):
            store.record_feed_error(
                FeedState(url="f", consecutive_errors=n + 1),
                float(n),
                "timeout" if n % 2 else "http_5xx",
                f"attempt {n}",
            )
        errors = store.feed_errors("f")
        assert len(errors) == ERRORS_KEPT_PER_FEED
        assert errors[0] == (
            float(ERRORS_KEPT_PER_FEED + 9),
            "timeout",
            f"attempt {ERRORS_KEPT_PER_FEED + 9}",
        )
        assert store.feed_state("f").consecutive_errors == ERRORS_KEPT_PER_FEED + 10


def test_sent_alerts_are_remembered(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert not store.was_sent("a1")
        store.mark_sent("a1", "s1", "desk", 1.0)
        store.mark_sent("a1", "s1", "desk", 2.0)  # idempotent
        assert store.was_sent("a1")


def test_old_sent_alerts_leave_the_outbox_but_stay_in_the_sent_log(tmp_path: Path) -> None:
    def row(alert_id: str) -> OutboxRow:
        return OutboxRow(alert_id, "s", "desk", "pending", "{}", f"alert:{alert_id}", 1.0, 1.0)

    with Store(tmp_path / "s.db") as store:
        store.outbox_add([row("old"), row("new"), row("waiting")])
        store.outbox_sent(["old"], at=100.0)
        store.outbox_sent(["new"], at=300.0)
        assert store.outbox_forget_sent_before(200.0) == 1
        assert {r.alert_id for r in store.outbox()} == {"new", "waiting"}
        assert store.was_sent("old")
        assert store.outbox_add([row("old")]) == []  # never queued again


def test_unwritable_store_reports_not_writable(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.writable()
    store._db.execute("PRAGMA query_only = ON")
    assert not store.writable()
    store.close()


def test_a_version_2_store_migrates_to_the_outbox_indexes_keeping_its_rows(
    tmp_path: Path,
) -> None:
    db = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    for statement in (s for migration in MIGRATIONS[:2] for s in migration):
        db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO outbox (alert_id, story_id, receiver, state, payload, group_key,"
        " created, due, updated) VALUES ('a1', 's1', 'desk', 'pending', '{}', 'g', 1, 5, 1)"
    )
    db.close()
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert [r.alert_id for r in store.outbox_batch("desk", 10.0, 50)] == ["a1"]
        assert store.outbox_pending() == 1 and store.outbox_group_due("g") == 5.0
        indexes = {row[1] for row in store._db.execute("PRAGMA index_list(outbox)")}
        assert {"outbox_by_due", "outbox_by_group"} <= indexes


@pytest.mark.parametrize(
    ("query", "args"),
    [
        (OUTBOX_FIRST_DUE, ("desk", 10.0)),
        (OUTBOX_GROUP_DUE, ("g", 10.0, 50)),
        (OUTBOX_GROUP_MIN_DUE, ("g",)),
        (OUTBOX_PENDING, ()),
    ],
)
def test_the_outbox_hot_queries_are_index_searches(
    tmp_path: Path, query: str, args: tuple[object, ...]
) -> None:
    """The delivery loop's queries never scan the table nor sort it (their cost does
    not grow with the payloads of every pending alert)."""
    with Store(tmp_path / "s.db") as store:
        plan = [row[-1] for row in store._db.execute("EXPLAIN QUERY PLAN " + query, args)]
    assert len(plan) == 1 and plan[0].startswith("SEARCH outbox USING"), plan
    assert "INDEX" in plan[0]


def test_next_batch_is_the_earliest_due_group_of_the_receiver(tmp_path: Path) -> None:
    def row(alert_id: str, receiver: str, group: str, due: float, created: float = 0.0,
            state: str = "pending") -> OutboxRow:  # fmt: skip
        return OutboxRow(alert_id, "s", receiver, state, "{}", group, created, due)

    with Store(tmp_path / "s.db") as store:
        store.outbox_add([
            row("late", "desk", "g1", 9.0), row("first", "desk", "g1", 3.0, created=2.0),
            row("tie", "desk", "g1", 3.0, created=1.0), row("other", "desk", "g2", 4.0),
            row("future", "desk", "g1", 20.0), row("mail", "mail", "g3", 1.0),
            row("dead", "desk", "g4", 0.5, state="dead"),
        ])  # fmt: skip
        assert [r.alert_id for r in store.outbox_batch("desk", 10.0, 50)] == [
            "tie", "first", "late"]  # fmt: skip
        assert [r.alert_id for r in store.outbox_batch("desk", 10.0, 2)] == ["tie", "first"]
        assert store.outbox_batch("desk", 2.0, 50) == []
        assert store.outbox_pending() == 6
        assert store.outbox_group_due("g1") == 3.0 and store.outbox_group_due("g9") is None


def _item(n: int, feed: str = "f") -> Item:
    return Item(id=f"i{n}", feed_url=feed, feed=feed, source="S", title=f"story {n}",
                summary="s", link=f"https://x.example/{n}", seen=SEEN)  # fmt: skip


SEEN = datetime(2030, 1, 1, tzinfo=UTC)


def test_staged_feed_state_and_seen_marks_are_read_back_at_once_and_written_by_flush(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db") as store:
        store.stage_feed_state(FeedState(url="f", etag='"v2"', truncated=7))
        store.stage_feed_error(FeedState(url="g", consecutive_errors=1), 5.0, "timeout", "slow")
        store.stage_seen("f", [_item(1), _item(2)], at=10.0)
        assert store.feed_state("f").etag == '"v2"' and store.unseen("f", ["i1", "i3"]) == ["i3"]
        assert store.feed_errors("g") == [(5.0, "timeout", "slow")]
        assert {s.url for s in store.feed_states()} == {"f", "g"}
        assert store.flush() == 2 + 1 + 2 + 2  # states, error, seen marks, retained items
        assert store.staged == 0
    with Store(tmp_path / "s.db") as store:
        assert store.feed_state("f").truncated == 7 and store.feed_state("g").consecutive_errors
        assert store.unseen("f", ["i1", "i2", "i3"]) == ["i3"]
        assert store.feed_errors("g") == [(5.0, "timeout", "slow")]


def test_what_was_staged_and_not_flushed_is_unseen_after_a_crash(tmp_path: Path) -> None:
    """A crash loses the marks staged since the last flush: those items come again
    (published twice, never lost)."""
    store = Store(tmp_path / "s.db")
    store.stage_seen("f", [_item(1)], at=1.0)
    store.flush()
    store.stage_seen("f", [_item(2)], at=2.0)
    store.stage_feed_state(FeedState(url="f", etag='"late"'))
    store._db.close()  # the process dies: no flush
    with Store(tmp_path / "s.db") as store:
        assert store.unseen("f", ["i1", "i2"]) == ["i2"]
        assert store.feed_state("f").etag is None


def test_a_failed_flush_keeps_everything_for_the_next(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.stage_seen("f", [_item(1)], at=1.0)
        store.stage_feed_state(FeedState(url="f", etag='"v1"'))
        store._db.execute("PRAGMA query_only = ON")
        with pytest.raises(StoreError):
            store.flush()
        assert store.staged == 3 and store.unseen("f", ["i1"]) == []
        store._db.execute("PRAGMA query_only = OFF")
        assert store.flush() == 3
    with Store(tmp_path / "s.db") as store:
        assert store.unseen("f", ["i1"]) == [] and store.feed_state("f").etag == '"v1"'


def test_retained_items_come_back_in_publish_order_within_a_time_range(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for n in range(1200):  # more than one page
            store.stage_seen("f" if n % 2 else "g", [_item(n, "f" if n % 2 else "g")], at=n / 10)
        store.flush()
        got = [item.id for item in store.retained_items(since=10.0, until=100.0)]
        assert got == [f"i{n}" for n in range(100, 1000)]
        assert next(store.retained_items(since=0.0)) == _item(0, "g")
        assert len(list(store.retained_items(since=0.0))) == 1200


def test_retained_items_are_bounded_by_age_and_count_oldest_first(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        for n in range(100):
            store.stage_seen("f", [_item(n)], at=float(n))
        store.flush()
        assert store.forget_items(before=10.0, keep=1000) == 10
        assert store.forget_items(before=0.0, keep=50) == 40
        assert [i.id for i in store.retained_items(since=0.0)] == [f"i{n}" for n in range(50, 100)]


def test_story_members_are_kept_found_and_forgotten_with_their_story(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        old = StoryRow("old", 1.0, 10.0, "", "", "{}")
        new = StoryRow("new", 1.0, 50.0, "", "", "{}")
        store.save_story(old, ["k-old"], MemberRow("old", 0, "i1", "a.example/1", "{}"))
        store.save_story(new, ["k-new"], MemberRow("new", 0, "i2", "b.example/2", "{}"))
        store.save_story(new, [], MemberRow("new", 1, "i3", None, '{"x": 1}'))
    with Store(tmp_path / "s.db") as store:  # a restart keeps them
        assert [m.seq for m in store.story_members("new")] == [0, 1]
        assert [m.story_id for m in store.members_since(20.0)] == ["new", "new"]
        found = store.find_member("i3")
        assert found is not None and found.data == '{"x": 1}'
        by_link = store.find_member("nothing", "a.example/1")
        assert by_link is not None and by_link.story_id == "old"
        assert store.forget_stories_before(20.0) == 1
        assert store.story_members("old") == [] and store.find_member("i1") is None
        assert store.story_for_keys(["k-old"]) is None and store.story_for_keys(["k-new"]) == "new"
