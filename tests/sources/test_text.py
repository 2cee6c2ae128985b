"""Text: control characters out, empty feeds a success, UTF-8 over a wrong charset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.normalise import plain_text
from monitor.sources.parse import parse_and_normalise, parse_feed

FEED = FeedConfig(url="https://feeds.example/f.xml", name="f")
SEEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("S-400\x00 \x07delivered\x1b[31m", "S-400 delivered[31m"),
        ("tab\tand\nnewline", "tab and newline"),
        ("it\x92s \x93quoted\x94 \x85", "it’s “quoted” …"),  # C1: Windows-1252 read as Latin-1
        ("\x81\x8d\x8f\x90\x9d", ""),  # C1 with no Windows-1252 character
        ("\u202eevil.exe\u202c txt", "evil.exe txt"),  # bidi override
        ("\u2066isolate\u2069 \u202bembed\u202c", "isolate embed"),
        ("S-4\u200b00 T\u00adür\ufeffkiye", "S-400 Türkiye"),  # hidden from a rule otherwise
        ("عربي\u200fنص \u200dx\u200c", "عربي\u200fنص \u200dx\u200c"),  # RLM, ZWJ, ZWNJ stay
        ("lone \ud800 surrogate", "lone surrogate"),
        ("&#1;&#x7f;entity&#x202e;", "entity"),
    ],
)
def test_control_characters_are_stripped(raw: str, expected: str) -> None:
    assert plain_text(raw, 1000) == expected
    assert plain_text(raw, 1000, plain=True) == plain_text(raw.replace("&", "&amp;"), 1000)


def test_control_characters_leave_titles_of_real_feeds() -> None:
    body = (
        "<rss version='2.0'><channel><title>Wire\u0007</title><item>"
        "<title>Erdo\u011fan &#x202E;meets\x1f</title><guid>id\x01-1</guid>"
        "<description>a\x0bb</description></item></channel></rss>"
    ).encode()
    parsed = parse_and_normalise(body, {}, FEED, SEEN)
    (item,) = parsed.items
    assert (parsed.title, item.title, item.summary, item.id) == (
        "Wire",
        "Erdoğan meets",
        "ab",
        "id-1",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>",
        b"<rss version='2.0'><channel/></rss>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'/>",
        b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://channel.netscape.com/rdf/simple/0.9/">\n</rdf:RDF>',
        b"<Channel xmlns='http://purl.org/net/rss1.1#'></Channel>",
    ],
    ids=["rss-title", "rss-bare", "atom", "rss090", "rss11"],
)
def test_a_valid_feed_with_no_items_is_a_success(body: bytes) -> None:
    assert parse_and_normalise(body, {}, FEED, SEEN).items == ()


@pytest.mark.parametrize(
    "body", [b"<note><to>Tove</to></note>", b"<html><body>hi</body></html>", b"<a><b/></a>"]
)
def test_other_xml_is_still_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(body, {})


TITLE = "Türkiye: Erdoğan’s S-400"


def _feed(encoding: str, declared: str) -> bytes:
    return (
        f"<?xml version='1.0' encoding='{declared}'?><rss version='2.0'><channel>"
        f"<title>{TITLE}</title><item><title>{TITLE}</title></item></channel></rss>"
    ).encode(encoding, "xmlcharrefreplace")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (_feed("utf-8", "iso-8859-1"), {}),
        (_feed("utf-8", "utf-8"), {"Content-Type": "application/rss+xml; charset=ISO-8859-1"}),
        (_feed("utf-8", "windows-1254"), {"Content-Type": "text/xml; charset=windows-1254"}),
    ],
    ids=["declaration", "http-header", "turkish-codepage"],
)
def test_utf8_body_declared_otherwise_is_read_as_utf8(body: bytes, headers: dict[str, str]) -> None:
    parsed = parse_and_normalise(body, headers, FEED, SEEN)
    assert (parsed.title, parsed.items[0].title) == (TITLE, TITLE)
    assert parsed.bozo is not None and "read as UTF-8" in parsed.bozo


@pytest.mark.parametrize(
    ("encoding", "headers", "title"),
    [
        ("iso-8859-1", {}, "Türkiye: Erdo&#287;an&#8217;s S-400"),
        ("iso-8859-1", {"Content-Type": "application/xml; charset=iso-8859-1"}, None),
        ("windows-1254", {}, None),
        ("windows-1251", {}, "Россия и Türkiye"),
        ("koi8-r", {}, "Россия"),
        ("shift_jis", {}, "トルコのS-400"),
    ],
)
def test_a_body_in_its_declared_legacy_charset_stays_correct(
    encoding: str, headers: dict[str, str], title: str | None
) -> None:
    text = title or TITLE
    body = (
        f"<?xml version='1.0' encoding='{encoding}'?><rss version='2.0'><channel>"
        f"<title>{text}</title><item><title>{text}</title></item></channel></rss>"
    ).encode(encoding, "xmlcharrefreplace")
    expected = text.replace("&#287;", "ğ").replace("&#8217;", "’")
    parsed = parse_and_normalise(body, headers, FEED, SEEN)
    assert parsed.items[0].title == expected
    assert parsed.bozo is None or "read as UTF-8" not in parsed.bozo
