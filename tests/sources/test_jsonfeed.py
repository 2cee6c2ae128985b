"""JSON Feed 1.0 and 1.1: detected by type and by content, normalised like RSS and
Atom, broken ones refused with a JSON message, bounded like the XML path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from feedserver import FeedServer, Handler

from monitor.config import FeedConfig, FetchConfig
from monitor.errors import ParseError
from monitor.sources.fetch import ACCEPT, Fetcher
from monitor.sources.jsonfeed import MAX_DEPTH, is_json
from monitor.sources.parse import parse_and_normalise
from monitor.sources.pool import ParsePool

FEED = FeedConfig(url="https://feeds.example/feed.json", name="json")
SEEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def feed11(**item: Any) -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Defence <Wire>",
        "home_page_url": "https://wire.example/",
        "language": "en-GB",
        "items": [
            {
                "id": "dw-4411",
                "url": "https://wire.example/s400?utm_source=json",
                "title": "Turkey & the S-400",
                "content_html": "<p>Deliveries <b>began</b>.</p>",
                "date_published": "2024-03-05T10:15:00+03:00",
                "authors": [{"name": "A. Writer"}],
                **item,
            }
        ],
    }


def parse(doc: object, content_type: str = "application/feed+json") -> Any:
    body = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
    return parse_and_normalise(body, {"Content-Type": content_type}, FEED, SEEN)


def test_json_feed_11_items_are_normalised() -> None:
    parsed = parse(feed11())
    assert (parsed.title, parsed.language, parsed.bozo) == ("Defence <Wire>", "en-gb", None)
    (item,) = parsed.items
    assert (item.id, item.guid, item.link) == ("dw-4411", "dw-4411", "https://wire.example/s400")
    assert item.title == "Turkey & the S-400"  # plain text in JSON Feed: no entity decoding
    assert item.summary == "Deliveries began."
    assert item.published == datetime(2024, 3, 5, 7, 15, tzinfo=UTC)
    assert (item.language, item.date_flag, item.source) == ("en-gb", None, "Defence <Wire>")


@pytest.mark.parametrize(
    ("fields", "summary"),
    [
        ({"summary": "The summary.", "content_text": "text"}, "The summary."),
        ({"content_text": "Plain <not a tag> text."}, "Plain <not a tag> text."),
        ({"content_html": "<p>a</p><p>b</p>"}, "a b"),
    ],
)
def test_summary_comes_from_summary_then_content(fields: dict[str, str], summary: str) -> None:
    doc = feed11(**fields)
    if "content_html" not in fields:
        del doc["items"][0]["content_html"]
    assert parse(doc).items[0].summary == summary


def test_json_feed_10_with_external_url_modified_date_and_a_number_id() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Old",
        "items": [
            {
                "id": 17,
                "external_url": "https://elsewhere.example/a",
                "title": "t",
                "date_modified": "2024-03-04T08:00:00Z",
                "author": {"name": "Solo"},
            },
            {"id": "x", "url": "/relative/b", "title": "u", "language": "tr"},
        ],
    }
    first, second = parse(doc, "application/json").items
    assert (first.id, first.link) == ("17", "https://elsewhere.example/a")
    assert first.published == datetime(2024, 3, 4, 8, tzinfo=UTC)
    assert second.link == "https://feeds.example/relative/b"  # resolved against the feed's URL
    assert (second.language, second.published) == ("tr", None)


@pytest.mark.parametrize(
    ("head", "content_type", "expected"),
    [
        (b'{"items": []}', "application/feed+json", True),
        (b'{"items": []}', "application/json; charset=utf-8", True),
        (b'{"items": []}', "application/rss+xml", True),  # the content says so
        (b'{"items": []}', "text/html", True),
        (b'\xef\xbb\xbf \n {"items": []}', "", True),
        (b'["not", "an object"]', "application/json", True),
        (b"<rss/>", "application/json", False),  # a misconfigured server: XML wins
        (b"<rss/>", "application/rss+xml", False),
        (b"plain", "text/plain", False),
    ],
)
def test_detection(head: bytes, content_type: str, expected: bool) -> None:
    assert is_json(head, content_type) is expected


def test_a_json_feed_served_as_xml_is_read() -> None:
    assert parse(feed11(), "application/rss+xml").items[0].id == "dw-4411"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1",\n "items": [}', "at line 2 column"),
        (b'{"title": "x" "items": []}', "Expecting ',' delimiter at line 1 column 15"),
        (b'["items"]', "the top level is an array, not an object"),
        (b'{"json": true}', "no items array and no jsonfeed.org version"),
        (b'{"items": "none"}', "items is a string, not an array"),
        (b'{"items": [' + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5) + b"]}", "nested"),
        (b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
    ],
    ids=["truncated", "missing-comma", "array", "no-items", "items-string", "deep", "deeper"],
)
def test_broken_json_feed_gets_a_json_message(body: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert caught.value.reason == "parse_error"
    assert caught.value.detail.startswith("invalid JSON Feed: ")
    assert message in caught.value.detail
    assert "well-formed" not in caught.value.detail


def test_versioned_feed_without_items_is_an_empty_feed() -> None:
    parsed = parse({"version": "https://jsonfeed.org/version/1.1", "title": "Quiet"})
    assert (parsed.title, parsed.items) == ("Quiet", ())


def test_fields_are_bounded_and_odd_types_ignored() -> None:
    doc = feed11(title="S-400 " + "x" * 200_000, summary=["not", "text"], tags="no")
    doc["items"].append("not an item")
    doc["items"].append({"id": None, "title": {"nested": "object"}, "url": 7})
    parsed = parse_and_normalise(json.dumps(doc).encode(), {}, FEED, SEEN, max_field_bytes=1024)
    (item,) = parsed.items  # the odd entries have no title, link or summary
    assert item.title.startswith("S-400 x") and len(item.title) <= 1_000


def test_invalid_utf8_is_replaced_and_reported() -> None:
    body = json.dumps(feed11(title="caf\udce9")).encode("utf-8", "surrogateescape")
    parsed = parse(body.replace(b"\\udce9", b"\xe9"))
    assert parsed.items[0].title == "caf\ufffd"
    assert parsed.bozo is not None and "not utf-8" in parsed.bozo.lower()


def test_accept_asks_for_json_feed() -> None:
    assert "application/feed+json" in ACCEPT and "application/json" in ACCEPT


def _json(body: bytes, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handler


async def test_json_feed_through_fetch_and_the_parse_workers() -> None:
    good = json.dumps(feed11()).encode()
    async with FeedServer() as server, ParsePool(workers=1) as pool:
        urls = {
            "typed": server.add("/typed", _json(good, "application/feed+json")),
            "untyped": server.add("/untyped", _json(good, "text/plain")),
            "broken": server.add("/broken", _json(good[:-9], "application/json")),
        }
        config = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",))
        async with Fetcher(config) as fetcher:
            results = {name: await fetcher.fetch(url) for name, url in urls.items()}
        for name in ("typed", "untyped"):
            parsed = await pool.parse(results[name].body, results[name].headers, FEED, seen=SEEN)
            assert [i.id for i in parsed.items] == ["dw-4411"], name
        with pytest.raises(ParseError, match=r"invalid JSON Feed: .* at line 1 column"):
            await pool.parse(results["broken"].body, results["broken"].headers, FEED, seen=SEEN)
        assert "application/feed+json" in server.requests[0].headers["Accept"]
