"""The story clock: the published time when it is plausible, else first-seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.dedup.clock import FUTURE_SKEW, MAX_AGE, story_time
from monitor.model import Item

SEEN = datetime(2025, 5, 6, 12, 0, tzinfo=UTC)
NOW = SEEN.timestamp() + 30


def at(published: datetime | None, seen: datetime = SEEN) -> float:
    item = Item(id="i", feed_url="f", feed="f", source="s", title="t", published=published,
                seen=seen)  # fmt: skip
    return story_time(item, NOW)


def test_a_plausible_published_time_is_the_story_time() -> None:
    assert at(SEEN - timedelta(minutes=7)) == (SEEN - timedelta(minutes=7)).timestamp()
    week_old = SEEN - timedelta(days=7)  # a backfill keeps its week-old time
    assert at(week_old) == week_old.timestamp()


def test_an_implausible_or_missing_published_time_gives_first_seen() -> None:
    assert at(None) == SEEN.timestamp()
    assert at(SEEN + timedelta(seconds=FUTURE_SKEW + 60)) == SEEN.timestamp()  # the future
    assert at(SEEN - timedelta(seconds=MAX_AGE + 60)) == SEEN.timestamp()  # 1970 and the like
    assert at(datetime(1970, 1, 1, tzinfo=UTC)) == SEEN.timestamp()


def test_a_slightly_fast_publisher_clock_is_first_seen_at_the_latest() -> None:
    assert at(SEEN + timedelta(seconds=60)) == SEEN.timestamp()


def test_first_seen_is_never_after_now() -> None:
    later = SEEN + timedelta(hours=1)  # a sighting "after" processing: a test, or a clock jump
    assert at(None, seen=later) == NOW
