"""Ids and links: GUIDs as written, relative links resolved, fragments kept where
they tell items apart, duplicate ids kept as two items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import FeedConfig
from monitor.sources.parse import ParsedFeed, parse_and_normalise

FEED = FeedConfig(url="https://host.example/dir/feed.xml", name="f")
SEEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def rss(items: str, channel: str = "") -> ParsedFeed:
    body = f"<rss version='2.0'><channel><title>T</title>{channel}{items}</channel></rss>"
    return parse_and_normalise(body.encode(), {}, FEED, SEEN)


def atom(entries: str, attrs: str = "") -> ParsedFeed:
    body = f"<feed xmlns='http://www.w3.org/2005/Atom' {attrs}><title>A</title>{entries}</feed>"
    return parse_and_normalise(body.encode(), {}, FEED, SEEN)


@pytest.mark.parametrize(
    "guid",
    ["<guid>dw-4411</guid>", "<guid isPermaLink='true'>dw-4411</guid>", "<guid> dw-4411 </guid>"],
)
def test_a_guid_that_is_not_a_url_stays_as_written_and_is_no_link(guid: str) -> None:
    (item,) = rss(f"<item><title>S-400</title>{guid}</item>").items
    assert (item.id, item.guid, item.link) == ("dw-4411", "dw-4411", None)


def test_a_relative_guid_is_not_resolved_even_under_xml_base() -> None:
    entry = "<entry><title>x</title><id>t3_1b2c3d</id></entry>"
    (item,) = atom(entry, "xml:base='https://www.reddit.example/r/news/'").items
    assert (item.id, item.link) == ("t3_1b2c3d", None)
    (item,) = rss("<item><title>x</title><guid>/news/7</guid></item>").items
    assert (item.id, item.link) == ("/news/7", None)


def test_a_url_guid_is_the_link_when_there_is_no_link() -> None:
    (item,) = rss(
        "<item><title>x</title><guid>https://host.example/a?utm_source=x</guid></item>"
    ).items
    assert (item.id, item.link) == (
        "https://host.example/a?utm_source=x",
        "https://host.example/a",
    )


def test_relative_links_resolve_against_the_feed_and_xml_base() -> None:
    (plain,) = rss("<item><title>x</title><link>../news/1</link></item>").items
    assert plain.link == "https://host.example/news/1"
    entries = (
        "<entry xml:base='/blog/'><title>y</title><link href='post-2'/><id>urn:2</id></entry>"
        "<entry><title>z</title><link href='post-3'/><id>urn:3</id></entry>"
    )
    nested, outer = atom(entries, "xml:base='https://other.example/root/'").items
    assert nested.link == "https://other.example/blog/post-2"
    assert outer.link == "https://other.example/root/post-3"
    (relative,) = atom("<entry><title>w</title><link href='p'/></entry>", "xml:base='/x/'").items
    assert relative.link == "https://host.example/x/p"


def test_content_location_is_the_base_when_the_server_gives_one() -> None:
    body = (
        b"<rss version='2.0'><channel><item><title>x</title><link>a</link></item></channel></rss>"
    )
    headers = {"Content-Location": "https://cdn.example/feeds/"}
    (item,) = parse_and_normalise(body, headers, FEED, SEEN).items
    assert item.link == "https://cdn.example/feeds/a"


def _day_page(anchors: range, page: str = "2024/03/05") -> str:
    return "".join(
        f"<item><title>post {n}</title><link>http://scripting.example/{page}.html#a{n}</link>"
        "</item>"
        for n in anchors
    )


def test_fragments_that_tell_items_apart_are_kept() -> None:
    items = rss(_day_page(range(48)) + _day_page(range(2), "2024/03/04")).items
    assert len({i.id for i in items}) == len({i.link for i in items}) == 50
    assert items[0].id == items[0].link == "http://scripting.example/2024/03/05.html#a0"
    assert items[-1].link == "http://scripting.example/2024/03/04.html#a1"


def test_a_feed_whose_fragments_tell_nothing_loses_them() -> None:
    items = rss(
        "<item><title>a</title><link>https://x.example/a#comments</link></item>"
        "<item><title>b</title><link>https://x.example/b#more</link></item>"
    ).items
    assert [i.link for i in items] == ["https://x.example/a", "https://x.example/b"]
    assert [i.id for i in items] == ["https://x.example/a", "https://x.example/b"]


def test_the_fragment_rule_is_per_feed_not_per_host() -> None:
    one_per_page = rss(_day_page(range(1)) + _day_page(range(1), "2024/03/04")).items
    assert [i.link for i in one_per_page] == [
        "http://scripting.example/2024/03/05.html",
        "http://scripting.example/2024/03/04.html",
    ]


def _dup(title: str, date: str = "", guid: str = "g-1") -> str:
    pub = f"<pubDate>{date}</pubDate>" if date else ""
    return f"<item><title>{title}</title><guid>{guid}</guid>{pub}</item>"


def test_duplicate_guids_keep_both_items_and_are_counted() -> None:
    parsed = rss(_dup("New story") + _dup("Old story"))
    new, old = parsed.items
    assert old.id == "g-1"  # the last (oldest, in a newest-first feed) keeps the id
    assert new.id.startswith("g-1#") and len(new.id) == len("g-1#") + 16
    assert (new.guid, old.guid) == ("g-1", "g-1")
    assert parsed.duplicate_ids == 1


def test_duplicate_ids_are_the_same_on_every_poll_and_the_first_seen_keeps_its_id() -> None:
    first_poll = rss(_dup("Old story", "Mon, 04 Mar 2024 10:00:00 GMT")).items
    second_poll = rss(
        _dup("Old story", "Mon, 04 Mar 2024 10:00:00 GMT")  # moved up: still the earliest dated
        + _dup("New story", "Tue, 05 Mar 2024 10:00:00 GMT")
    ).items
    third_poll = rss(
        _dup("New story", "Tue, 05 Mar 2024 10:00:00 GMT")
        + _dup("Old story", "Mon, 04 Mar 2024 10:00:00 GMT")
    ).items
    assert first_poll[0].id == "g-1"
    ids = {i.title: i.id for i in second_poll}
    assert ids == {i.title: i.id for i in third_poll}
    assert ids["Old story"] == "g-1" and ids["New story"] != "g-1"


def test_exact_copies_are_one_item() -> None:
    parsed = rss(_dup("Same") + _dup("Same") + _dup("Other"))
    assert sorted(i.title for i in parsed.items) == ["Other", "Same"]
    assert parsed.duplicate_ids == 1


def test_guidless_items_sharing_a_link_are_both_kept() -> None:
    parsed = rss(
        "<item><title>Morning brief</title><link>https://x.example/brief</link></item>"
        "<item><title>Evening brief</title><link>https://x.example/brief</link></item>"
    )
    assert len({i.id for i in parsed.items}) == 2 and parsed.duplicate_ids == 1
