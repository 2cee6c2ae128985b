"""Feed corpora for the ingest tests, read the way the daemon reads feeds.

Three corpora from other parsers' test suites, copied with their licences:

=================  ==========================================  ========================
name               from                                        licence
=================  ==========================================  ========================
feedparser         feedparser's test suite                     BSD-2 (LICENSE)
gofeed             github.com/mmcdole/gofeed testdata,         MIT (LICENSE)
                   commit e010ca02e0eb (many ``*_expected``)
feedvalidator      github.com/w3c/feedvalidator testcases,     W3C (LICENSE)
                   commit 43dabeb217bd
=================  ==========================================  ========================

:func:`read_over_http` serves files from a real local server and takes each
through the daemon's path (the Fetcher, an admission to the ParsePool, a worker
process), returning what came out per file: a :class:`ParsedFeed` or the
``ParseError``. ``job`` defaults to newsmon's ``parse_and_normalise``; another
parser's function with the same signature can be passed to compare its items
with feedparser's, file by file (:func:`read_in_process` does the same without
HTTP and workers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web
from feedserver import FeedServer, Handler

from monitor.config import FeedConfig, FetchConfig
from monitor.model import parse_iso
from monitor.sources.fetch import Fetcher
from monitor.sources.normalise import plain_text
from monitor.sources.parse import ParsedFeed, parse_and_normalise
from monitor.sources.pool import ParsePool

FIXTURES = Path(__file__).parent / "fixtures"
CORPORA = {
    "feedparser": FIXTURES / "feedparser-tests",
    "gofeed": FIXTURES / "gofeed-testdata",
    "feedvalidator": FIXTURES / "feedvalidator-testcases",
}
SEEN = datetime(2027, 1, 1, tzinfo=UTC)  # after every date the corpora hold as valid
Job = Callable[[bytes, Mapping[str, str], FeedConfig, datetime], ParsedFeed]
Outcome = ParsedFeed | Exception  # a ParseError, or a crash


def corpus_files(name: str) -> list[Path]:
    """The feed files of one corpus: every file but licences and expected outputs."""
    root = CORPORA[name]
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "LICENSE"):
        if path.name.endswith("_expected.json"):
            continue
        if name == "gofeed" and path.suffix == ".json" and path.with_suffix(".xml").exists():
            continue  # the expected output of the .xml beside it
        files.append(path)
    return files


def content_type(path: Path) -> str:
    """The Content-Type a file is served with: JSON Feeds as JSON, feedparser's
    ``*text_plain*``/``*text_xml*`` cases as their names say, others as XML."""
    name = path.stem.lower()
    if path.suffix == ".json":
        return "application/feed+json"
    if "text_plain" in name:
        return "text/plain" + ("; charset=utf-8" if "charset" in name else "")
    if "text_xml" in name:
        return "text/xml" + ("; charset=utf-8" if "charset" in name else "")
    return "application/xml"


def feed_config(root: Path, path: Path) -> FeedConfig:
    return FeedConfig(url=f"http://127.0.0.1/{path.relative_to(root).as_posix()}", name=path.name)


def read_in_process(
    files: Iterable[Path], root: Path, job: Job = parse_and_normalise
) -> dict[Path, Outcome]:
    """Each file's outcome, parsed in this process (headers as they would be served)."""
    out: dict[Path, Outcome] = {}
    for path in files:
        headers = {"content-type": content_type(path)}
        try:
            out[path] = job(path.read_bytes(), headers, feed_config(root, path), SEEN)
        except Exception as exc:  # a ParseError, or a crash the caller reports
            out[path] = exc
    return out


def _serve(path: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=path.read_bytes(), headers={"Content-Type": content_type(path)})

    return handler


async def read_over_http(
    files: Iterable[Path],
    root: Path,
    pool: ParsePool,
    job: Job = parse_and_normalise,
    concurrency: int = 16,
) -> dict[Path, Outcome]:
    """Each file's outcome, served by one local server, fetched by one Fetcher and
    parsed in ``pool``'s workers. A fetch failure propagates; whatever the job
    raised is the file's outcome."""
    out: dict[Path, Outcome] = {}
    files = list(files)
    async with FeedServer() as server:
        urls = {
            path: server.add("/" + path.relative_to(root).as_posix(), _serve(path))
            for path in files
        }
        config = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",), per_host=concurrency)
        gate = asyncio.Semaphore(concurrency)
        async with Fetcher(config) as fetcher:

            async def one(path: Path) -> None:
                async with gate, pool.admission() as admit:
                    result = await fetcher.fetch(urls[path], admit=admit)
                    run = partial(
                        job, result.body, dict(result.headers), feed_config(root, path), SEEN
                    )
                    try:
                        out[path] = await pool.run(run)
                    except Exception as exc:  # a ParseError, or a crash the caller reports
                        out[path] = exc

            await asyncio.gather(*(one(path) for path in files))
    return out


class ExpectedItem(NamedTuple):
    title: str | None
    link: str | None
    guid: str | None
    published: datetime | None
    has_text: bool  # a description, summary or content with text once markup is stripped


class Expected(NamedTuple):
    """What gofeed's ``*_expected`` output says of a file: the feed's title (None
    when it has none) and its items."""

    title: str | None
    items: list[ExpectedItem]


def gofeed_expected(path: Path) -> Expected | None:
    """gofeed's expected output for ``path``, or None when it has none."""
    if path.suffix == ".json":
        beside = path.with_name(path.stem + "_expected.json")
    else:
        beside = path.with_suffix(".json")
    if not beside.exists():
        return None
    doc = json.loads(beside.read_text(encoding="utf-8"))
    if "entries" in doc:  # gofeed's Atom parser
        return Expected(doc.get("title"), [_atom_item(e) for e in doc["entries"]])
    if "feedType" in doc:  # gofeed's universal feed
        return Expected(doc.get("title"), [_universal_item(i) for i in doc.get("items") or ()])
    if path.suffix == ".json":  # gofeed's JSON Feed parser
        return Expected(doc.get("title"), [_json_item(i) for i in doc.get("items") or ()])
    return Expected(doc.get("title"), [_rss_item(i) for i in doc.get("items") or ()])


def _time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def _has(item: dict[str, Any], *keys: str) -> bool:
    """Whether any of ``keys`` holds text, markup aside (a string, or an Atom content's value)."""
    values = [item.get(key) for key in keys]
    return any(plain_text(v.get("value") if isinstance(v, dict) else v, 100) for v in values)


def _rss_item(item: dict[str, Any]) -> ExpectedItem:
    guid = (item.get("guid") or {}).get("value")
    when = _time(item.get("pubDateParsed"))
    text = _has(item, "description", "content")
    return ExpectedItem(item.get("title"), item.get("link"), guid, when, text)


def _atom_item(entry: dict[str, Any]) -> ExpectedItem:
    links = [x for x in entry.get("links") or () if x.get("rel", "alternate") == "alternate"]
    link = links[0].get("href") if links else None
    when = _time(entry.get("publishedParsed") or entry.get("updatedParsed"))
    text = _has(entry, "summary", "content")
    return ExpectedItem(entry.get("title"), link, entry.get("id"), when, text)


def _universal_item(item: dict[str, Any]) -> ExpectedItem:
    when = _time(item.get("publishedParsed") or item.get("updatedParsed"))
    text = _has(item, "description", "content")
    return ExpectedItem(item.get("title"), item.get("link"), item.get("guid"), when, text)


def _json_item(item: dict[str, Any]) -> ExpectedItem:
    when = _time(item.get("date_published") or item.get("date_modified"))
    link = item.get("url") or item.get("external_url")
    text = _has(item, "summary", "content_text", "content_html")
    return ExpectedItem(item.get("title"), link, item.get("id"), when, text)
