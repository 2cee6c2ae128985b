"""StoryBook over a real SQLite store: which matches are one story, by which tier, within
the window and the story clock, and what a restart keeps (members, reasons, near misses)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.dedup.stories import DEFAULT_WINDOW, StoryBook
from monitor.model import Evidence, Item, Match, RuleHit
from monitor.store import Store, StoryRow

T0 = 1_700_000_000.0
S400 = (RuleHit("s400", "high"),)
TURKEY = (RuleHit("turkey", "low"),)
LEAD = ("ANKARA (Reuters) - The first parts of the Russian S-400 missile defence system "
        "were delivered to Murted air base near Ankara on Friday, Turkey's defence ministry "
        "said, a move likely to widen a rift with the United States.")  # fmt: skip
INDIA_LEAD = (
    "NEW DELHI (Reuters) - Russia has delivered components of a second S-400 air defence "
    "battery to India, two Indian defence officials said on Tuesday, as New Delhi presses "
    "Moscow to speed up long-delayed shipments under a 2018 deal."
)
AP_LEAD = ("ISTANBUL (AP) — Three Russian cargo planes carrying S-400 components landed at "
           "Murted air base outside the Turkish capital on Friday, the Defense Ministry said, "
           "as Washington repeated that the purchase could trigger sanctions.")  # fmt: skip


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
    published: float | None = None,
) -> Match:
    when = datetime.fromtimestamp(published, UTC) if published is not None else None
    item = Item(id=item_id or guid or link or title, feed_url=f"https://{feed}.example/rss",
                feed=feed, source=feed.title(), title=title, summary=summary, link=link,
                guid=guid, published=when,
                seen=when + timedelta(minutes=5) if when else datetime.now(UTC))  # fmt: skip
    return Match(item, hits)


def test_same_link_from_two_feeds_is_one_story(book: StoryBook) -> None:
    link = "https://reuters.example/world/russia-s400-turkey"
    first = book.observe(match("Russia to share S-400 technology with Turkey", link=link), T0)
    again = book.observe(match("Russia shares S-400 know-how", feed="yahoo", link=link), T0 + 60)
    assert first.new and first.member.tier == "first" and first.story.version == 1
    assert again.copy and again.story.story_id == first.story.story_id
    assert (again.member.tier, again.member.score) == ("copy", 100.0)
    assert again.member.matched == first.member.item.id
    assert again.story.outlets == ("Reuters", "Yahoo") and again.story.duplicates == ("Yahoo",)
    assert again.story.version == 2 and again.story.copies == 2
    assert again.story.item.title == "Russia to share S-400 technology with Turkey"  # the first
    stored = book.get(first.story.story_id)
    assert stored is not None and [m.tier for m in stored.members] == ["first", "copy"]


def test_http_and_amp_addresses_are_the_same_article(book: StoryBook) -> None:
    link = "https://www.dawn.com/news/1915985/pakistan-launches-operation"
    first = book.observe(match("Pakistan launches operation against India", link=link), T0)
    for n, other in enumerate([link.replace("https", "http"),
                               link.replace("/news/", "/news/amp/"),
                               link + "?outputType=amp"]):  # fmt: skip
        seen = book.observe(match(f"Pakistan strikes back {n}", feed=f"f{n}", link=other), T0 + n)
        assert seen.copy and seen.story.story_id == first.story.story_id, other


def test_an_update_of_the_same_article_joins(book: StoryBook) -> None:
    link = "https://reuters.example/world/erdogan"
    first = book.observe(match("Erdogan speaks on S-400", link=link, guid="g-1"), T0)
    retitled = book.observe(match("Erdogan vows to keep the S-400", link=link, guid="g-2"), T0 + 1)
    new_guid = book.observe(match("Erdogan speaks on S-400", link=link, guid="g-3"), T0 + 2)
    assert retitled.copy and new_guid.copy
    assert new_guid.story.story_id == first.story.story_id and new_guid.story.copies == 3
    assert len(book.events) == 1  # one story, three members


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
    assert copy.member.tier == "copy" and copy.member.score >= 75
    assert copy.story.outlets == ("Reuters", "Wire")
    for title in ("Russia delivers S-400 to India", "Turkey delivers S-400 to Russia"):
        other = book.observe(
            match(title, feed="wire", link=f"https://wire.example/{title}"), T0 + 2
        )
        assert other.new, title


def test_a_copy_of_any_member_joins_not_only_of_the_first(book: StoryBook) -> None:
    first = book.observe(match("Turkey takes delivery of Russian S-400 parts", summary=AP_LEAD,
                               feed="ap"), T0)  # fmt: skip
    wire = book.observe(match("Russia delivers first S-400 parts to Turkey, ministry says",
                              summary=LEAD, feed="reuters"), T0 + 60)  # fmt: skip
    assert wire.copy and wire.member.tier == "event"
    retitled = book.observe(match("Turkey receives first parts of Russian S-400 system",
                                  summary=LEAD, feed="yahoo"), T0 + 120)  # fmt: skip
    assert retitled.copy and retitled.story.story_id == first.story.story_id
    assert retitled.member.tier == "copy" and retitled.member.matched == wire.member.item.id


def test_a_rewrite_joins_by_the_event_tier_and_says_why(book: StoryBook) -> None:
    first = book.observe(match("Russia delivers first S-400 parts to Turkey, ministry says",
                               summary=LEAD), T0)  # fmt: skip
    ap = match("Turkey takes delivery of more Russian S-400 missile parts", summary=AP_LEAD,
               feed="ap", hits=S400 + TURKEY)  # fmt: skip
    rewrite = book.observe(ap, T0 + 1800)
    assert rewrite.copy and rewrite.story.story_id == first.story.story_id
    assert rewrite.member.tier == "event" and 0 < rewrite.member.score <= 1
    assert rewrite.member.matched == first.member.item.id
    assert rewrite.new_rules == ("turkey",) and rewrite.story.rules == ("s400", "turkey")
    assert rewrite.story.version == 2 and "s400" in rewrite.story.entities


def test_a_near_miss_keeps_its_veto(book: StoryBook) -> None:
    turkey = book.observe(match("Russia delivers second S-400 battery to Turkey, ministry says",
                                summary=LEAD), T0)  # fmt: skip
    india = book.observe(match("Russia delivers second S-400 battery to India, officials say",
                               summary=INDIA_LEAD, feed="pti"), T0 + 600)  # fmt: skip
    assert india.new and india.near_miss is not None
    assert india.near_miss.story_id == turkey.story.story_id
    assert india.near_miss.veto.startswith("place: ")
    assert india.story.near_miss == india.near_miss


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
    old = book.observe(match("F-35 deliveries resume", link=link), T0)
    same_link = book.observe(match("F-35 deliveries resume", feed="ap", link=link), later)
    assert same_link.new and same_link.story.copies == 1
    assert same_link.story.story_id != old.story.story_id  # the old story is not overwritten
    assert book.get(old.story.story_id) is not None


def test_the_window_is_on_the_story_clock(book: StoryBook) -> None:
    """A backfill of week-old items joins its own week, never today's story."""
    today = T0
    week_ago = T0 - 7 * 86400
    live = book.observe(match("Russia delivers S-400 to Turkey", summary=LEAD,
                              published=today), today + 600)  # fmt: skip
    old = book.observe(match("Russia delivers S-400 to Turkey", summary=LEAD, feed="archive",
                             published=week_ago), today + 700)  # fmt: skip
    assert old.new and old.story.story_id != live.story.story_id
    assert old.member.at == week_ago
    update = match("UPDATE 1-Russia delivers S-400 to Turkey", summary=LEAD, feed="archive2",
                   published=week_ago + 300)  # fmt: skip
    old_copy = book.observe(update, today + 800)
    assert old_copy.copy and old_copy.story.story_id == old.story.story_id


def test_a_restarted_book_keeps_members_reasons_and_near_misses(store: Store) -> None:
    book = StoryBook(store)
    first = book.observe(match("Russia delivers first S-400 parts to Turkey, ministry says",
                               summary=LEAD, link="https://reuters.example/s400"), T0)  # fmt: skip
    rewrite = book.observe(match("Turkey takes delivery of more Russian S-400 missile parts",
                                 summary=AP_LEAD, feed="ap"), T0 + 60)  # fmt: skip
    india = book.observe(match("Russia delivers first S-400 parts to India, ministry says",
                               summary=INDIA_LEAD, feed="pti"), T0 + 90)  # fmt: skip
    book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0 - 3 * 86400)
    restarted = StoryBook(store)
    assert restarted.load(T0 + 120) == 2  # the old one is forgotten
    story = restarted.get(first.story.story_id)
    assert story is not None and story == book.get(first.story.story_id)
    assert [(m.tier, m.matched) for m in story.members] == [
        ("first", None), ("event", first.member.item.id)]  # fmt: skip
    assert story.members[1].score == rewrite.member.score
    kept = restarted.get(india.story.story_id)
    assert kept is not None and kept.near_miss == india.near_miss
    copy = restarted.observe(match("RUSSIA DELIVERS FIRST S-400 PARTS TO TURKEY", feed="ap2",
                                   summary=LEAD), T0 + 180)  # fmt: skip
    assert copy.copy and copy.story.story_id == first.story.story_id and copy.story.version == 3
    found = restarted.find_item("https://reuters.example/amp/s400")
    assert found is not None and found[1].tier == "first"
    by_id = restarted.find_item(rewrite.member.item.id)
    assert by_id is not None and by_id[0].story_id == first.story.story_id
    assert by_id[1].item.source == "Ap"
    assert restarted.find_item("no-such-item") is None


def test_stories_since_reads_the_store(store: Store) -> None:
    book = StoryBook(store)
    book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0)
    later = book.observe(match("Lockheed Martin cuts F-35 price in new contract"), T0 + 600)
    other = StoryBook(store)  # another process: the CLI reads the state file
    assert [s.story_id for s in other.stories_since(T0 + 300)] == [later.story.story_id]


def test_a_story_stored_before_members_loads_as_one_member(store: Store) -> None:
    item = match("Russia delivers S-400 to Turkey").item
    data = {"match": Match(item, S400).to_dict(), "outlets": ["Reuters", "Ap"], "copies": 2}
    store.save_story(StoryRow("legacy", T0, T0, "[]", "[]", json.dumps(data)), ())
    book = StoryBook(store)
    assert book.load(T0) == 1
    story = book.get("legacy")
    assert story is not None and story.copies == 1 and story.version == 2
    assert story.outlets == ("Reuters", "Ap") and story.members[0].tier == "first"
    joined = book.observe(match("UPDATE 2-Russia delivers S-400 to Turkey", feed="wire"), T0 + 5)
    assert joined.copy and joined.story.story_id == "legacy"


def test_evidence_terms_are_the_entities_across_scripts(book: StoryBook) -> None:
    tr = Evidence("S-400", "title", "С-400", 0, 5)
    hit = (RuleHit("s400", "high", (), (tr,)),)
    ru = book.observe(match("С-400 доставлены в Турцию", hits=hit, feed="ria"), T0)
    assert "s400" in ru.member.entities and "s400" in ru.story.entities


def test_evict_drops_old_stories_from_memory_and_store(book: StoryBook, store: Store) -> None:
    old = book.observe(match("Pentagon moves to suspend Turkey from F-35 programme"), T0)
    new = book.observe(match("Lockheed Martin cuts F-35 price in new contract"), T0 + 86400)
    assert book.evict(T0 + DEFAULT_WINDOW + 1) == 1
    assert book.get(old.story.story_id) is None and store.story(old.story.story_id) is None
    assert store.story_members(old.story.story_id) == []
    assert book.get(new.story.story_id) is not None
    assert len(book.events) == 1
    assert [r.story_id for r in store.stories_since(0)] == [new.story.story_id]
    again = book.observe(match("Pentagon moves to suspend Turkey from F-35 programme",
                               feed="wire"), T0 + DEFAULT_WINDOW + 2)  # fmt: skip
    assert again.new
