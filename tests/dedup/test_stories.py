"""StoryBook over a real SQLite store: which matches are one story, within the window,
across a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.dedup.stories import DEFAULT_WINDOW, StoryBook
from monitor.model import Item, Match, RuleHit
from monitor.store import Store, StoryRow

T0 = 1_700_000_000.0
S400 = (RuleHit("s400", "high"),)
TURKEY = (RuleHit("turkey", "low"),)
LEAD = ("ANKARA (Reuters) - The first parts of the Russian S-400 missile defence system "
        "were delivered to Murted air base near Ankara on Friday, Turkey's defence ministry "
        "said, a move likely to widen a rift with the United States.")  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as s:
        yield s


@pytest.fixture
def book(store: Store) -> StoryBook:
    return StoryBook(store)


def match(
    title: str,
    *,
    feed: str = "reuters",
    link: str | None = None,
    guid: str | None = None,
    item_id: str | None = None,
    summary: str = "",
    hits: tuple[RuleHit, ...] = S400,
) -> Match:
    item = Item(id=item_id or guid or link or title, feed_url=f"https://{feed}.example/rss",
                feed=feed, source=feed.title(), title=title, summary=summary, link=link,
                guid=guid)  # fmt: skip
    return Match(item, hits)


def test_same_link_from_two_feeds_is_one_story(book: StoryBook) -> None:
    link = "https://reuters.example/world/russia-s400-turkey"
    first = book.observe(match("Russia to share S-400 technology with Turkey", link=link), T0)
    again = book.observe(match("Russia shares S-400 know-how", feed="yahoo", link=link), T0 + 60)
    assert first.new and again.copy
    assert again.story.story_id == first.story.story_id
    assert again.story.outlets == ("Reuters", "Yahoo") and again.story.duplicates == ("Yahoo",)
    assert again.story.copies == 2
    assert again.story.item.title == "Russia to share S-400 technology with Turkey"  # the first
    stored = book.get(first.story.story_id)
    assert stored is not None and stored.copies == 2 and stored.last_seen == T0 + 60


def test_an_update_of_the_same_article_joins(book: StoryBook) -> None:
    link = "https://reuters.example/world/erdogan"
    first = book.observe(match("Erdogan speaks on S-400", link=link, guid="g-1"), T0)
    retitled = book.observe(match("Erdogan vows to keep the S-400", link=link, guid="g-2"), T0 + 1)
    new_guid = book.observe(match("Erdogan speaks on S-400", link=link, guid="g-3"), T0 + 2)
    assert retitled.copy and new_guid.copy
    assert new_guid.story.story_id == first.story.story_id and new_guid.story.copies == 3
    assert len(book.index) == 1


def test_a_global_guid_joins_across_feeds_a_short_one_does_not(book: StoryBook) -> None:
    urn = "urn:newsml:reuters.com:20190827:nL8N25N1RX"
    a = book.observe(
        match("Russia to share S-400 technology", guid=urn, link="https://a.example/1"), T0
    )
    b = book.observe(match("Rostec: Turkey gets production know-how", feed="yahoo", guid=urn,
                           link="https://b.example/2"), T0 + 1)  # fmt: skip
    assert b.copy and b.story.story_id == a.story.story_id
    one = book.observe(match("Lockheed Martin cuts F-35 price", guid="1234"), T0 + 2)
    two = book.observe(match("Greece concerned over S-400 activation", feed="ekathimerini",
                             guid="1234"), T0 + 3)  # fmt: skip
    assert one.new and two.new and one.story.story_id != two.story.story_id


def test_near_duplicates_join_distinct_stories_stay_apart(book: StoryBook) -> None:
    first = book.observe(match("Russia delivers S-400 to Turkey", link="https://a.example/1"), T0)
    copy = book.observe(match("UPDATE 1-Russia delivers S-400 to Turkey - Reuters",
                              feed="wire", link="https://wire.example/9"), T0 + 1)  # fmt: skip
    assert copy.copy and copy.story.story_id == first.story.story_id
    assert copy.story.outlets == ("Reuters", "Wire")
    for title in ("Russia delivers S-400 to India", "Turkey delivers S-400 to Russia"):
        other = book.observe(
            match(title, feed="wire", link=f"https://wire.example/{title}"), T0 + 2
        )
        assert other.new, title


def test_later_copies_add_their_rules(book: StoryBook) -> None:
    first = book.observe(match("Russia to share S-400 technology with Turkey"), T0)
    assert first.new_rules == ("s400",)
    copy = book.observe(match("EXCLUSIVE-Russia to share S-400 technology with Turkey",
                              feed="wire", hits=S400 + TURKEY), T0 + 1)  # fmt: skip
    assert copy.copy and copy.new_rules == ("turkey",)
    assert copy.story.rules == ("s400", "turkey") and copy.story.severity == "high"
    again = book.observe(match("Russia to share S400 technology with Turkey", feed="ap",
                               hits=TURKEY), T0 + 2)  # fmt: skip
    assert again.copy and again.new_rules == ()
    stored = book.get(first.story.story_id)
    assert stored is not None and stored.rules == ("s400", "turkey")


def test_a_copy_after_the_window_is_a_new_story(book: StoryBook) -> None:
    link = "https://reuters.example/f35"
    first = book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0)
    later = T0 + DEFAULT_WINDOW + 1
    near = book.observe(match("UPDATE 1-Pentagon moves to suspend Turkey from F-35 programme",
                              feed="wire"), later)  # fmt: skip
    assert near.new and near.story.story_id != first.story.story_id
    book.observe(match("F-35 deliveries resume", link=link), T0)
    same_link = book.observe(match("F-35 deliveries resume", feed="ap", link=link), later)
    assert same_link.new and same_link.story.copies == 1


def test_a_restarted_book_finds_the_stories_of_the_window(store: Store) -> None:
    book = StoryBook(store)
    first = book.observe(match("Russia delivers S-400 to Turkey", summary=LEAD), T0)
    book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0 - 3 * 86400)
    restarted = StoryBook(store)
    assert restarted.load(T0 + 60) == 1  # the old one is forgotten
    copy = restarted.observe(match("RUSSIA DELIVERS S-400 TO TURKEY", feed="ap"), T0 + 120)
    assert copy.copy and copy.story.story_id == first.story.story_id
    retitled = restarted.observe(
        match(
            "Turkey takes delivery of S-400 from Russia",
            feed="aa",
            summary=LEAD.replace("ANKARA", "ANKARA, July 12"),
        ),
        T0 + 180,
    )
    assert retitled.copy and retitled.story.copies == 3  # the lead is kept across the restart
    india = restarted.observe(match("Russia delivers S-400 to India", feed="pti"), T0 + 240)
    assert india.new  # the names are kept across the restart too


def test_stories_stored_without_names_still_compare_by_names(store: Store) -> None:
    book = StoryBook(store)
    first = book.observe(match("Russia delivers S-400 to Turkey"), T0)
    row = store.story(first.story.story_id)
    assert row is not None
    title, tokens, _ = json.loads(row.title_sig)
    legacy = StoryRow(row.story_id, row.created, row.last_seen, json.dumps([title, tokens]),
                      row.lead_sig, row.data)  # fmt: skip
    store.save_story(legacy, ())
    restarted = StoryBook(store)
    assert restarted.load(T0) == 1
    assert restarted.observe(match("Russia delivers S-400 to India", feed="pti"), T0 + 1).new
    copy = restarted.observe(match("UPDATE 1-Russia delivers S-400 to Turkey", feed="ap"), T0 + 2)
    assert copy.copy and copy.story.story_id == first.story.story_id


def test_evict_drops_old_stories_from_index_and_store(book: StoryBook, store: Store) -> None:
    old = book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0)
    new = book.observe(match("Lockheed Martin cuts F-35 price in new contract"), T0 + 86400)
    assert book.evict(T0 + DEFAULT_WINDOW + 1) == 1
    assert book.get(old.story.story_id) is None and store.story(old.story.story_id) is None
    assert book.get(new.story.story_id) is not None
    assert len(book.index) == 1
    assert [r.story_id for r in store.stories_since(0)] == [new.story.story_id]
