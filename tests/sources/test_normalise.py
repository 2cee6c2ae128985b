"""Table-driven tests of the pure normalisation: links, text, ids, times."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import feedparser
import pytest

from monitor.config import FeedConfig
from monitor.sources.normalise import (
    MAX_SUMMARY,
    MAX_TITLE,
    canonical_link,
    item_id,
    normalise,
    plain_text,
)

FEED = FeedConfig(url="https://feeds.example/defence.xml", name="defence")
SEEN = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://ex.com/a?utm_source=rss&utm_medium=feed&id=7", "https://ex.com/a?id=7"),
        ("https://ex.com/a?fbclid=IwAR0&gclid=x&dclid=y&msclkid=z", "https://ex.com/a"),
        ("https://ex.com/a?b=2&mc_cid=1&a=1&_hsenc=p&igshid=q", "https://ex.com/a?b=2&a=1"),
        ("https://ex.com/a?UTM_Campaign=x&q=s-400", "https://ex.com/a?q=s-400"),
        ("https://ex.com/a#comments", "https://ex.com/a"),
        ("HTTPS://WWW.Example.COM/Path/X", "https://www.example.com/Path/X"),
        ("http://ex.com:80/a", "http://ex.com/a"),
        ("https://ex.com:443/a", "https://ex.com/a"),
        ("https://ex.com:8443/a", "https://ex.com:8443/a"),
        ("https://ex.com", "https://ex.com/"),
        ("https://ex.com/ü?q=ğ", "https://ex.com/%C3%BC?q=%C4%9F"),
        ("/news/1?utm_source=x", "https://feeds.example/news/1"),
        ("  https://ex.com/a  ", "https://ex.com/a"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("mailto:desk@example.com", None),
        ("ftp://ex.com/file", None),
        ("https://ex.com:99999/a", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_link(raw: str | None, expected: str | None) -> None:
    assert canonical_link(raw, base=FEED.url) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Turkey <b>receives</b> S-400</p>", "Turkey receives S-400"),
        ("<p>one</p><p>two</p>", "one two"),
        ("a &amp; b &lt;c&gt; &#8217; &eacute; &nbsp;x", "a & b <c> ’ é x"),
        ("<script>var x = '<p>no</p>';</script>kept<style>p{}</style>", "kept"),
        ("<SCRIPT type='x'>bad()</SCRIPT >ok", "ok"),
        ("<script>never closed " + "x" * 50, ""),
        ("<!-- hidden > still hidden -->shown", "shown"),
        ("  lots \n\t of\r\n   space  ", "lots of space"),
        ("F-<em>35</em>A", "F-35A"),
        (None, ""),
    ],
)
def test_plain_text(raw: str | None, expected: str) -> None:
    assert plain_text(raw, 1000) == expected


def test_plain_text_keeps_angle_brackets_of_plain_text() -> None:
    assert plain_text("a < b > c", 100, plain=True) == "a < b > c"


@pytest.mark.parametrize(("limit", "text"), [(MAX_TITLE, "t"), (MAX_SUMMARY, "s")])
def test_truncation_marks_the_cut(limit: int, text: str) -> None:
    out = plain_text("word " * limit, limit)
    assert len(out) == limit - 1 or len(out) == limit
    assert out.endswith("…")
    assert plain_text(text * limit, limit) == text * limit


def test_many_unclosed_scripts_are_linear() -> None:
    started = time.perf_counter()
    assert plain_text("<script>" * 20_000, 100) == ""
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("guid", "link", "expected"),
    [
        ("dw-4411", "https://ex.com/a", "dw-4411"),
        (None, "https://ex.com/a", "https://ex.com/a"),
        ("x" * 600, None, "g:"),
        (None, None, "h:"),
    ],
)
def test_item_id_choice(guid: str | None, link: str | None, expected: str) -> None:
    got = item_id(guid, link, "Title", None)
    assert got == expected if len(expected) > 2 else got.startswith(expected)
    if expected in ("g:", "h:"):
        assert len(got) == 2 + 64


def test_hash_id_is_stable_and_depends_on_title_and_date() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert item_id(None, None, "A", when) == item_id(None, None, "A", when)
    assert item_id(None, None, "A", when) != item_id(None, None, "B", when)
    assert item_id(None, None, "A", when) != item_id(None, None, "A", None)


def _entry_feed(entry_xml: str) -> feedparser.FeedParserDict:
    body = f"<rss version='2.0'><channel><title>T</title><item>{entry_xml}</item></channel></rss>"
    return feedparser.parse(body.encode())


@pytest.mark.parametrize(
    ("date", "expected", "flag"),
    [
        ("Tue, 10 Sep 2019 14:30:00 +0300", datetime(2019, 9, 10, 11, 30, tzinfo=UTC), None),
        ("Tue, 10 Sep 2019 14:30:00 -0500", datetime(2019, 9, 10, 19, 30, tzinfo=UTC), None),
        ("Sat, 02 Mar 2024 23:00:00 GMT", datetime(2024, 3, 2, 23, 0, tzinfo=UTC), None),
        ("Sat, 09 Mar 2024 12:00:00 GMT", SEEN, "future"),  # > 1 day ahead of seen
        ("Sat, 02 Mar 2024 10:00:00 CET", datetime(2024, 3, 2, 9, 0, tzinfo=UTC), None),
        ("not a date", SEEN, "unparseable"),  # first-seen time, flagged: never made up
        ("", None, None),
    ],
)
def test_published_is_utc_and_flagged(date: str, expected: datetime | None, flag: str) -> None:
    parsed = _entry_feed(f"<title>x</title><pubDate>{date}</pubDate>")
    (item,) = normalise(parsed, FEED, seen=SEEN).items
    assert (item.published, item.date_flag) == (expected, flag)
    if item.published is not None:
        assert item.published.tzinfo is UTC


def test_an_exact_updated_beats_a_bad_published() -> None:
    parsed = _entry_feed(
        "<title>x</title><pubDate>yesterday</pubDate>"
        "<atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>2024-03-01T10:00:00Z</atom:updated>"
    )
    (item,) = normalise(parsed, FEED, seen=SEEN).items
    assert (item.published, item.date_flag) == (datetime(2024, 3, 1, 10, tzinfo=UTC), None)


def test_hash_id_of_a_flagged_date_is_the_same_on_every_poll() -> None:
    parsed = _entry_feed("<title>x</title><pubDate>yesterday</pubDate>")
    first = normalise(parsed, FEED, seen=SEEN).items[0]
    later = normalise(parsed, FEED, seen=SEEN.replace(hour=18)).items[0]
    assert first.id == later.id and first.id.startswith("h:")
    assert first.published != later.published


def test_updated_is_used_without_published() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
    <entry><title>x</title><updated>2024-02-14T06:30:00+05:30</updated></entry></feed>"""
    (item,) = normalise(feedparser.parse(atom), FEED, seen=SEEN).items
    assert item.published == datetime(2024, 2, 14, 1, 0, tzinfo=UTC)


def test_entries_without_title_link_or_summary_are_dropped() -> None:
    parsed = _entry_feed("<guid>only-a-guid</guid><pubDate>Sat, 02 Mar 2024 10:00:00 GMT</pubDate>")
    assert normalise(parsed, FEED, seen=SEEN).items == ()


def test_feed_facts_and_item_provenance() -> None:
    body = b"""<rss version="2.0"><channel><title>Defence &lt;b&gt;Wire&lt;/b&gt;</title>
    <language>EN_gb</language><ttl>30</ttl>
    <item><title>a</title></item></channel></rss>"""
    parsed = normalise(feedparser.parse(body), FEED, seen=SEEN, bozo="why")
    assert (parsed.title, parsed.language, parsed.ttl, parsed.bozo) == (
        "Defence Wire",
        "en-gb",
        1800.0,
        "why",
    )
    (item,) = parsed.items
    assert (item.feed, item.feed_url, item.source, item.seen) == (
        "defence",
        FEED.url,
        "Defence Wire",
        SEEN,
    )


@pytest.mark.parametrize("ttl", ["", "abc", "-5", "0", "nan", "inf"])
def test_bad_ttl_is_none(ttl: str) -> None:
    body = (
        f"<rss version='2.0'><channel><ttl>{ttl}</ttl><item><title>a</title></item></channel></rss>"
    )
    parsed = normalise(feedparser.parse(body.encode()), FEED, seen=SEEN)
    assert parsed.ttl is None
    assert parsed.items[0].source == "defence"  # no feed title: the configured name
