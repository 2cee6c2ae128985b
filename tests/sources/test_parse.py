"""parse_feed and ParsePool: real fixture feeds, hostile XML, deadlines."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.model import Item
from monitor.sources.parse import ParsedFeed, parse_and_normalise, parse_feed
from monitor.sources.pool import ParsePool

FIXTURES = Path(__file__).parent.parent / "fixtures"
ATTACKS = sorted((FIXTURES / "xml-attacks").glob("*.xml"))
FEED = FeedConfig(url="https://feeds.example/defence.xml", name="defence")
SEEN = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


def parse_fixture(name: str) -> ParsedFeed:
    return parse_and_normalise((FIXTURES / "feeds" / name).read_bytes(), {}, FEED, SEEN)


def test_rss2() -> None:
    parsed = parse_fixture("rss2.xml")
    assert (parsed.title, parsed.language, parsed.ttl, parsed.bozo) == (
        "Defence Wire & Analysis",
        "en-gb",
        900.0,
        None,
    )
    s400, f35, sanctions = parsed.items
    assert s400 == Item(
        id="dw-4411",
        feed_url=FEED.url,
        feed="defence",
        source="Defence Wire & Analysis",
        title="Turkey takes delivery of second S-400 battery",
        summary="Russian transport aircraft landed at Mürted air base near Ankara on Monday,"
        " delivering parts of the second S-400 battery. Washington warned of CAATSA sanctions.",
        link="https://www.defencewire.example/news/s400-turkey-second-battery?id=4411",
        published=datetime(2019, 9, 10, 11, 30, tzinfo=UTC),
        seen=SEEN,
        language="en-gb",
        guid="dw-4411",
    )
    assert f35.title == "F-35 programme: Lockheed & Pentagon agree Lot 15-17 price"
    assert f35.link == "https://www.defencewire.example/news/f35-lot-15?page=2"
    assert f35.summary == "The deal covers up to 398 aircraft — the largest F-35 contract yet."
    assert sanctions.guid is None
    assert (
        sanctions.id
        == sanctions.link
        == "https://www.defencewire.example/news/eu-sanctions-package"
    )
    assert (
        sanctions.summary == "The eleventh package targets firms supplying drones and electronics."
    )
    assert sanctions.published == datetime(2023, 6, 21, 16, 15, tzinfo=UTC)


def test_atom() -> None:
    parsed = parse_fixture("atom.xml")
    assert (parsed.title, parsed.language, parsed.ttl) == ("Arms & Security Monitor", "en", None)
    greece, india, treasury = parsed.items
    assert greece.id == greece.guid == "tag:armsmonitor.example,2024:entry-101"
    assert greece.link == "https://armsmonitor.example/2024/01/greece-f35?ref=home"
    assert greece.published == datetime(2024, 1, 27, 3, 5, tzinfo=UTC)
    assert greece.summary == "The US State Department approved the sale of up to 40 F-35A aircraft."
    # no <id>: the canonical link (resolved against the feed's URL) is the id
    assert india.guid is None
    assert india.id == india.link == "https://feeds.example/2024/02/india-s400-drill"
    assert india.title == "India tests S-400 in live-fire drill"
    assert (
        india.summary
        == 'The Indian Air Force said the "Sudarshan Chakra" squadrons intercepted targets.'
    )
    assert india.published == datetime(2024, 2, 14, 1, 0, tzinfo=UTC)
    assert treasury.link is None  # javascript: is not a link
    assert treasury.language == "en"


def test_rss1_rdf() -> None:
    parsed = parse_fixture("rss1.xml")
    assert (parsed.title, parsed.language) == ("Military Brief", "de")
    patriot, germany, caatsa = parsed.items
    assert patriot.title == "Patriot or S-400? Ankara weighs its options"
    assert patriot.published == datetime(2019, 7, 12, 7, 0, tzinfo=UTC)
    assert germany.link == "http://militarybrief.example/briefs/f35-germany?lang=de"
    assert germany.published == datetime(2022, 12, 14, 14, 45, tzinfo=UTC)
    assert caatsa.published is None
    assert caatsa.id == "https://militarybrief.example/briefs/caatsa"


def test_bozo_feed_with_entries_is_accepted_and_says_why() -> None:
    body = b"<rss version='2.0'><channel><title>T</title><item><title>S-400 &nbsp; news</title>"
    parsed = parse_and_normalise(body, {}, FEED, SEEN)
    assert [i.title for i in parsed.items] == ["S-400 news"]
    assert parsed.bozo


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n ",
        b"<!doctype html><html><head><title>Hi</title></head><body><p>x</p></body></html>",
        b"\x00\xff\xfe garbage \x89PNG",
        b"/etc/passwd",  # feedparser would open a str/bytes path; we hand it a stream
        b'{"json": true}',
    ],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, {"content-type": "text/html"})
    assert caught.value.reason == "parse_error"


def _longest_run(text: str) -> int:
    longest = run = 0
    for prev, char in zip(" " + text, text, strict=False):
        run = run + 1 if char == prev else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("path", ATTACKS, ids=[p.name for p in ATTACKS])
def test_xml_attacks_are_inert(path: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse_and_normalise(path.read_bytes(), {}, FEED, SEEN)
    assert caught.value.reason in {"xml_entities", "parse_error"}
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 300 * 1024  # KiB


def _attack_feed(entities: str, payload: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{entities}\n]>\n'
        f"<rss version='2.0'><channel><title>T</title>"
        f"<item><title>S-400 {payload}</title><description>{payload}</description></item>"
        f"</channel></rss>"
    ).encode()


QUADRATIC = _attack_feed(f'<!ENTITY a "{"B" * 20_000}">', "&a;" * 3_000)
LAUGHS = _attack_feed(
    '<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 or "") + ";") * 10}">' for i in range(1, 10)),
    "&lol9;",
)


@pytest.mark.parametrize(
    "body",
    [
        QUADRATIC,
        LAUGHS,
        QUADRATIC.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"),
        QUADRATIC.decode().replace('"1.0"?>', '"1.0" encoding="utf-32"?>').encode("utf-32"),
        QUADRATIC.replace(b"<!DOCTYPE", b"<!-- c --><?pi x?>\n<!DOCTYPE"),
    ],
    ids=["quadratic", "laughs", "utf16", "utf32", "after-comment"],
)
def test_entities_in_real_feeds_stay_unexpanded(body: bytes) -> None:
    """A feed that declares entities still yields its items, with the refs inert."""
    started = time.perf_counter()
    parsed = parse_and_normalise(body, {}, FEED, SEEN)
    assert time.perf_counter() - started < 2.0
    assert len(parsed.items) == 1
    item = parsed.items[0]
    assert item.title.startswith("S-400")
    for text in (item.title, item.summary):
        assert "BBBB" not in text
        assert "lollol" not in text
        assert len(text) <= 10_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 300 * 1024


@pytest.mark.parametrize(
    "body",
    [
        QUADRATIC.decode().encode("utf-16-le"),
        QUADRATIC.decode().encode("utf-16"),
        QUADRATIC.decode().encode("utf-32-be"),
        QUADRATIC.decode().encode("cp037"),
        LAUGHS.replace(b"\n]>", b"\n"),  # unterminated DOCTYPE
    ],
    ids=["utf16le-undeclared", "utf16-bom-undeclared", "utf32be", "ebcdic", "unterminated"],
)
def test_entities_in_odd_encodings_never_expand(body: bytes) -> None:
    """Whatever the encoding, the outcome is a clean error or inert text."""
    try:
        parsed = parse_and_normalise(body, {}, FEED, SEEN)
    except ParseError as exc:
        assert exc.reason in {"xml_entities", "parse_error"}
    else:
        for item in parsed.items:
            assert "BBBB" not in item.title + item.summary
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 300 * 1024


def test_entity_declaration_outside_the_prolog_is_refused() -> None:
    body = b'junk\n<!DOCTYPE x [\n<!ENTITY a "BBBB">\n]>\n<rss><channel><title>&a;</title>'
    body += b"</channel></rss>"
    with pytest.raises(ParseError) as caught:
        parse_feed(body, {})
    assert caught.value.reason == "xml_entities"


def test_blank_prolog_is_not_quadratic() -> None:
    body = (
        b"<?xml version='1.0'?>"
        + b"\n" * 200_000
        + b"<rss><channel><title>T</title></channel></rss>"
    )
    started = time.perf_counter()
    assert parse_and_normalise(body, {}, FEED, SEEN).title == "T"
    assert time.perf_counter() - started < 1.0


def _author_feed(author: str, items: int = 3) -> bytes:
    entries = "".join(
        f"<item><title>F-35 news {n}</title><author>{author}</author>"
        f"<link>https://ex.com/{n}</link></item>"
        for n in range(items)
    )
    return f"<rss version='2.0'><channel><title>T</title>{entries}</channel></rss>".encode()


@pytest.mark.parametrize(
    "author",
    ["a@" + "a." * 50_000 + "!", "a." * 50_000 + "@!", "x" * 100_000, "é" * 50_000],
    ids=["domain", "local", "token", "non-ascii"],
)
def test_100kb_author_is_fast_and_keeps_items(author: str) -> None:
    """feedparser #562: its author e-mail regex is quadratic (24 s for 100 KB)."""
    started = time.perf_counter()
    parsed = parse_and_normalise(_author_feed(author), {}, FEED, SEEN, 64 * 1024)
    assert time.perf_counter() - started < 1.0
    assert [i.title for i in parsed.items] == [f"F-35 news {n}" for n in range(3)]


def test_oversized_field_is_shortened_not_refused() -> None:
    body = _author_feed("ok").replace(b"F-35 news 0", b"F-35 " + b"news " * 40_000)
    result = parse_feed(body, {}, max_field_bytes=1024)
    assert len(result["entries"]) == 3
    assert len(result["entries"][0]["title"]) <= 1024


async def test_pool_parses_off_the_loop() -> None:
    body = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
    async with ParsePool(workers=1) as pool:
        parsed = await pool.parse(body, {"Content-Type": "application/rss+xml"}, FEED, seen=SEEN)
    assert parsed == parse_fixture("rss2.xml")


RUNAWAY = partial(re.fullmatch, r"(a+)+b", "a" * 40)  # backtracks for hours: CPU-bound


async def test_pool_timeout_kills_the_worker_and_recovers() -> None:
    body = (FIXTURES / "feeds" / "atom.xml").read_bytes()
    async with ParsePool(workers=1, timeout=0.5) as pool:
        with pytest.raises(ParseError) as caught:
            await pool.run(RUNAWAY)  # type: ignore[arg-type]
        assert caught.value.reason == "parse_timeout"
        parsed = await pool.parse(body, {}, FEED, seen=SEEN)
        assert len(parsed.items) == 3


async def test_the_deadline_is_cpu_time_so_a_busy_machine_fails_no_parse() -> None:
    """A job that waits (as a starved process on a loaded machine does) is not killed
    at ``timeout`` wall-clock seconds: only CPU time spent counts, and a job making no
    progress at all is given up at WALL_FACTOR x timeout."""
    async with ParsePool(workers=1, timeout=0.3) as pool:
        assert await pool.run(partial(time.sleep, 0.9)) is None  # type: ignore[arg-type]
        with pytest.raises(ParseError) as caught:
            await pool.run(partial(time.sleep, 60))  # type: ignore[arg-type]
        assert caught.value.reason == "parse_timeout"


async def test_pool_crash_is_a_parse_error_and_recovers() -> None:
    async with ParsePool(workers=1, timeout=10) as pool:
        with pytest.raises(ParseError) as caught:
            await pool.run(partial(os._exit, 3))
        assert caught.value.reason == "parse_crash"
        parsed = await pool.parse(
            (FIXTURES / "feeds" / "rss1.xml").read_bytes(), {}, FEED, seen=SEEN
        )
        assert len(parsed.items) == 3


async def test_pool_reports_parse_errors() -> None:
    async with ParsePool(workers=1) as pool:
        with pytest.raises(ParseError) as caught:
            await pool.parse(
                (FIXTURES / "xml-attacks" / "quadratic.xml").read_bytes(), {}, FEED, seen=SEEN
            )
    assert caught.value.reason == "xml_entities"


def _many_items(count: int) -> bytes:
    items = "".join(
        f"<item><title>S-400 story {n}</title><link>https://x.example/{n}</link>"
        f"<guid>{n}</guid><description>{'word ' * 50}</description></item>"
        for n in range(count)
    )
    return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


async def test_one_runaway_job_costs_no_other_job() -> None:
    """More jobs than workers, one of them hostile: every ordinary job returns its
    items (its deadline starts when it gets a worker, not when it was queued) and
    the hostile one alone gets parse_timeout; no CancelledError, no parse_crash."""
    body = _many_items(300)  # ~0.05 s each: 40 of them queue well past the deadline
    async with ParsePool(workers=2, timeout=1.0) as pool:

        async def ordinary(n: int) -> int:
            feed = FeedConfig(url=f"https://feeds.example/{n}.xml", name=f"f{n}")
            return len((await pool.parse(body, {}, feed, seen=SEEN)).items)

        hostile = asyncio.ensure_future(pool.run(RUNAWAY))  # type: ignore[arg-type]
        results = await asyncio.gather(*(ordinary(n) for n in range(40)), return_exceptions=True)
        with pytest.raises(ParseError) as caught:
            await hostile
        assert caught.value.reason == "parse_timeout"
        assert results == [300] * 40
        assert await ordinary(99) == 300  # and the pool still works


async def test_admission_holds_workers_plus_queue_bodies() -> None:
    async with ParsePool(workers=2, queue=1) as pool:
        entered: list[int] = []
        release = asyncio.Event()

        async def caller(n: int) -> None:
            async with pool.admission() as admit:
                await admit()
                await admit()  # twice is once
                entered.append(n)
                await release.wait()

        tasks = [asyncio.create_task(caller(n)) for n in range(6)]
        async with asyncio.timeout(10):
            while len(entered) < 3:
                await asyncio.sleep(0.01)
        for _ in range(20):  # let any caller that could get in do so
            await asyncio.sleep(0)
        assert len(entered) == 3  # workers + queue
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert sorted(entered) == list(range(6))


async def test_admission_not_taken_is_not_held() -> None:
    async with ParsePool(workers=1, queue=0) as pool:
        for _ in range(3):
            async with pool.admission():
                pass  # a 304 or a failed fetch never asks
        async with asyncio.timeout(10), pool.admission() as admit:
            await admit()


async def test_killing_a_pool_twice_is_harmless() -> None:
    from monitor.sources.poolworker import _kill

    async with ParsePool(workers=1) as pool:
        await pool.run(partial(time.sleep, 0))
        (worker,) = pool._live
        _kill(worker)
        _kill(worker)  # a second kill of a worker already stopped
