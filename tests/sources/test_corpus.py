"""Acceptance: three corpora of other parsers' test files (tests/corpus.py: feedparser's
suite, gofeed's testdata, the W3C feed validator's testcases, each with its
licence) served over HTTP and read through the daemon's path: the Fetcher, an
admission to the ParsePool and a worker process, all files of a corpus from one
server, one pool for all.

* No crash: every file gives a normalised ParsedFeed or a clean ParseError with a
  reason and a detail (a timeout, a dead worker or any other exception is a crash).
* Every file with gofeed's expected output gives the same feed title and, per
  item, the same title, link, GUID and published time; each legitimate
  difference is one of :data:`RULES` or :data:`KNOWN`, with its reason, and
  counted: none is waved through.
* Every valid JSON Feed is read, with items.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corpus import (
    CORPORA,
    SEEN,
    Expected,
    ExpectedItem,
    Outcome,
    corpus_files,
    gofeed_expected,
    read_over_http,
)

from monitor.errors import ParseError
from monitor.model import Item
from monitor.sources.normalise import MAX_TITLE, ParsedFeed, canonical_link, plain_text
from monitor.sources.pool import ParsePool

CLEAN_REASONS = {"parse_error", "xml_entities"}
MIN_WITH_ITEMS = {"feedparser": 500, "gofeed": 100, "feedvalidator": 1000}  # files with items


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[Path, Outcome]]:
    async def read_all() -> dict[str, dict[Path, Outcome]]:
        async with ParsePool(workers=2, timeout=30) as pool:
            return {
                name: await read_over_http(corpus_files(name), root, pool)
                for name, root in CORPORA.items()
            }

    return asyncio.run(read_all())


@pytest.mark.parametrize("name", list(CORPORA))
def test_no_crash(outcomes: dict[str, dict[Path, Outcome]], name: str) -> None:
    results = outcomes[name]
    assert len(results) == len(corpus_files(name)) > 500
    crashes = [
        f"{path.relative_to(CORPORA[name])}: {type(out).__name__}: {out}"
        for path, out in results.items()
        if not isinstance(out, ParsedFeed)
        and not (isinstance(out, ParseError) and out.reason in CLEAN_REASONS and out.detail)
    ]
    assert not crashes, "\n".join(crashes)
    bad_links = [
        f"{path.name}: {item.link!r}"
        for path, out in results.items()
        if isinstance(out, ParsedFeed)
        for item in out.items
        if item.link is not None and not item.link.startswith(("http://", "https://"))
    ]
    assert not bad_links, "\n".join(bad_links)
    counts = Counter(
        "items" if isinstance(o, ParsedFeed) and o.items else type(o).__name__
        for o in results.values()
    )
    print(f"{name}: {len(results)} files: {dict(counts)}")
    assert counts["items"] > MIN_WITH_ITEMS[name]


def test_every_valid_json_feed_is_read(outcomes: dict[str, dict[Path, Outcome]]) -> None:
    results = outcomes["gofeed"]
    json_files = [p for p in results if p.suffix == ".json"]
    valid = [p for p in json_files if "invalid" not in p.as_posix()]
    assert len(valid) >= 9
    unread = [
        p.name for p in valid if not (isinstance(results[p], ParsedFeed) and results[p].items)
    ]
    assert not unread
    for path in set(json_files) - set(valid):
        assert isinstance(results[path], ParseError)
        assert str(results[path]).startswith("parse_error: invalid JSON Feed: ")


# Each rule: (field, test of (ours, expected, item, body)), and the reason it is legitimate.
Rule = Callable[[Any, Any, ExpectedItem | None, str], bool]
RULES: dict[str, tuple[str, Rule, str]] = {
    "html_stripped": (
        "title",
        lambda ours, exp, item, body: ours == plain_text(exp or "", MAX_TITLE),
        "titles are plain text: markup stripped, character references decoded (gofeed keeps "
        "the markup)",
    ),
    "canonical_link": (
        "link",
        lambda ours, exp, item, body: exp is not None and ours == canonical_link(exp),
        "links are canonical: '/' for an empty path, lower-case host, no default port, no "
        "tracking parameters, no fragment unless it tells the feed's items apart",
    ),
    "url_id_as_link": (
        "link",
        lambda ours, exp, item, body: (
            exp is None and item is not None and ours == canonical_link(item.guid)
        ),
        "an entry with no link whose id is an absolute http(s) URL has it as its link "
        "(RSS isPermaLink semantics, as feedparser reads Atom ids)",
    ),
    "rdf_about_id": (
        "guid",
        lambda ours, exp, item, body: exp is None and f'rdf:about="{ours}"' in body,
        "RSS 1.0: rdf:about is the item's URI; feedparser, and so newsmon, take it as its id",
    ),
}
KNOWN: dict[tuple[str, str], str] = {
    ("testdata/parser/rss/issue_217_enclosure_children.xml", "items"): (
        "feedparser reads the enclosure's <media:title> as the title of an item that has none"
    ),
    ("testdata/parser/atom/entry_id_xml_base.xml", "items"): (
        "ids are kept as written, never resolved against xml:base (gofeed resolves them): a "
        "relative id is no link, and the entry has nothing else"
    ),
    ("testdata/parser/rss/issue_320_legacy_entity_prefix.xml", "feed_title"): (
        "ill-formed (&copy is no XML entity): feedparser's loose parser decodes it as HTML does"
    ),
    ("testdata/parser/rss/rss_channel_item_uri_at_protocol.xml", "link"): (
        "feedparser reads <link uri='at://...'>'s attribute, not its text: no http(s) link"
    ),
    ("testdata/parser/atom/atom10_feed_title_xhtml_inline_markup.xml", "feed_title"): (
        "ill-formed (<title> closed by </subtitle>): feedparser's loose parser keeps no title"
    ),
    ("testdata/parser/atom/atom10_feed_title_xhtml_escaped_markup.xml", "feed_title"): (
        "ill-formed (<title> closed by </subtitle>): feedparser's loose parser keeps no title"
    ),
}


def _readable(item: ExpectedItem) -> bool:
    """An item newsmon keeps: a title, a link (an http(s) id serves as one) or text."""
    url_id = canonical_link(item.guid) if item.guid else None
    return bool(item.title or item.link or url_id or item.has_text)


def compare(rel: str, ours: ParsedFeed, expected: Expected, body: str) -> list[tuple[str, str]]:
    """(field, how it differs: "explained:<rule>" or "unexplained: ...") per difference."""
    out: list[tuple[str, str]] = []

    def check(field: str, got: Any, exp: Any, item: ExpectedItem | None = None) -> None:
        if got == exp:
            return
        rules = [
            n for n, (f, test, _) in RULES.items() if f == field and test(got, exp, item, body)
        ]
        rule_field = "feed_title" if field == "feed_title" else field
        if (rel, rule_field) in KNOWN:
            out.append((field, "explained:known"))
        elif rules or (field == "feed_title" and got == plain_text(exp or "", MAX_TITLE)):
            out.append((field, f"explained:{rules[0] if rules else 'html_stripped'}"))
        else:
            out.append((field, f"unexplained: {rel}: {field} {got!r} != {exp!r}"))

    if expected.title is not None:
        check("feed_title", ours.title, expected.title)
    readable = [e for e in expected.items if _readable(e)]
    out += [("items", "explained:dropped")] * (len(expected.items) - len(readable))
    if len(readable) != len(ours.items):
        if (rel, "items") in KNOWN:
            return [*out, ("items", "explained:known")]
        return [*out, ("items", f"unexplained: {rel}: {len(ours.items)} items, {len(readable)}")]
    for got, exp in zip(ours.items, readable, strict=True):
        check("title", got.title, exp.title or "", exp)
        check("link", got.link, exp.link, exp)
        check("guid", got.guid, exp.guid, exp)
        check("published", got.published, exp.published if exp.published else _undated(got), exp)
    return out


def _undated(item: Item) -> object:
    return None if item.date_flag is None else item.published  # a flagged date: SEEN


DROPPED = (
    "an entry with no title, link or text (markup aside) is no item: nothing a desk could "
    "read or match"
)


def test_gofeed_expected_outputs(outcomes: dict[str, dict[Path, Outcome]]) -> None:
    root = CORPORA["gofeed"]
    compared = 0
    kinds: Counter[str] = Counter()
    unexplained: list[str] = []
    for path, ours in outcomes["gofeed"].items():
        expected = gofeed_expected(path)
        if expected is None:
            continue
        rel = path.relative_to(root).as_posix()
        assert isinstance(ours, ParsedFeed), f"{rel}: {ours}"
        compared += 1
        body = path.read_text(encoding="utf-8", errors="replace")
        for field, how in compare(rel, ours, expected, body):
            kinds[f"{field}:{how}" if how.startswith("explained") else f"{field}:unexplained"] += 1
            if not how.startswith("explained"):
                unexplained.append(how)
    reasons = {name: reason for name, (_, _, reason) in RULES.items()} | {"dropped": DROPPED}
    print(f"gofeed: {compared} files with expected output; differences: {dict(kinds)}")
    for name, reason in reasons.items():
        print(f"  {name}: {reason}")
    assert compared > 500
    assert not unexplained, "\n".join(unexplained)
    assert SEEN.year == 2027  # the corpora's dates (2026 included) are all in its past
