"""The fast RSS reader against feedparser, the reference, on every file of the
corpora (feedparser's suite, gofeed's testdata, the W3C validator's cases, the
XML attacks, newsmon's own samples): wherever the fast reader accepts a file,
normalise finds the same feed title, language, ttl and the same items, every
field of every item; where it refuses, feedparser reads the file as before."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus import CORPORA, FIXTURES, SEEN, content_type, corpus_files, feed_config

from monitor.errors import ParseError
from monitor.sources.fastrss import read_rss
from monitor.sources.normalise import ParsedFeed, normalise
from monitor.sources.parse import harden, parse_feed

EXTRA = {
    "xml-attacks": FIXTURES / "xml-attacks",
    "samples": FIXTURES / "feeds",
    "stories": FIXTURES / "stories",
}


def files() -> list[tuple[str, Path, Path]]:
    out = [(name, root, path) for name, root in CORPORA.items() for path in corpus_files(name)]
    for name, root in EXTRA.items():
        out += [(name, root, p) for p in sorted(root.rglob("*.xml"))]
    return out


def read(path: Path, root: Path, fast: bool) -> ParsedFeed | str:
    headers = {"content-type": content_type(path)}
    feed = feed_config(root, path)
    try:
        result = parse_feed(path.read_bytes(), headers, base=feed.base, fast=fast)
    except ParseError as exc:
        return f"ParseError: {exc}"
    parsed = normalise(result, feed, seen=SEEN, base=result["base"])
    return ParsedFeed(parsed.title, parsed.language, parsed.ttl, parsed.items, None,
                      parsed.duplicate_ids, parsed.renamed)  # fmt: skip


def accepted(path: Path) -> bool:
    headers = {"content-type": content_type(path)}
    try:
        data = harden(path.read_bytes(), headers, max_field_bytes=64 * 1024).data
    except ParseError:
        return False
    return read_rss(data, headers) is not None


def test_the_fast_reader_gives_what_feedparser_gives_on_every_file() -> None:
    taken: Counter[str] = Counter()
    differ = []
    for name, root, path in files():
        if not accepted(path):
            continue
        taken[name] += 1
        fast, reference = read(path, root, True), read(path, root, False)
        if fast != reference:
            differ.append(f"{name}: {path.relative_to(root)}:\n  fast {fast}\n  ref  {reference}")
    total = Counter(name for name, _, _ in files())
    print("fast path taken:", {n: f"{taken[n]} of {total[n]}" for n in total})
    assert not differ, "\n".join(differ[:10])
    assert taken["feedparser"] + taken["gofeed"] + taken["feedvalidator"] > 200
    assert taken["samples"] >= 1


@pytest.mark.parametrize(
    "body",
    [
        b'<rss version="2.0"><channel><title>T</title><item><title>a</title>'
        b"<media:title xmlns:media='http://search.yahoo.com/mrss/'>b</media:title></item>"
        b"</channel></rss>",
        b'<rss version="2.0" xml:lang="fr"><channel><item><title>a</title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><title>a</title><title>b</title></item>'
        b"</channel></rss>",
        b'<rss version="0.91"><channel><item><title>a</title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><title>&nbsp;a</title></item></channel></rss>',
        b'<rss version="2.0"><channel><item><description type="text">a</description></item>'
        b"</channel></rss>",
    ],
)
def test_shapes_it_does_not_know_are_left_to_feedparser(body: bytes) -> None:
    headers = {"content-type": "application/rss+xml"}
    assert read_rss(harden(body, headers, max_field_bytes=65536).data, headers) is None


def test_a_content_language_header_is_left_to_feedparser() -> None:
    body = b'<rss version="2.0"><channel><item><title>a</title></item></channel></rss>'
    headers = {"content-type": "application/rss+xml", "content-language": "de"}
    assert read_rss(harden(body, headers, max_field_bytes=65536).data, headers) is None
