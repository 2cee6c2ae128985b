"""Acceptance: every file of feedparser's own test corpus goes through
parse + normalise with items or a ParseError, never an unhandled exception.

The corpus (tests/fixtures/feedparser-tests, feedparser's BSD-2 licence in its
LICENSE) is parsed in-process first. The over-HTTP variant serves the same files
from a local aiohttp server and takes each through the poller's own path: the
Fetcher's body and headers, an admission to the ParsePool, and a worker process
(arguments and results pickled), as the daemon does.
"""

from __future__ import annotations

import asyncio
import traceback
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from monitor.config import FeedConfig, FetchConfig
from monitor.errors import ParseError
from monitor.sources.fetch import Fetcher, FetchResult
from monitor.sources.parse import ParsedFeed, parse_and_normalise
from monitor.sources.pool import ParsePool

CORPUS = Path(__file__).parent.parent / "fixtures" / "feedparser-tests"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")
SEEN = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


def _feed(path: Path) -> FeedConfig:
    return FeedConfig(url=f"http://127.0.0.1/{path.relative_to(CORPUS)}", name=path.name)


def _check(
    path: Path, body: bytes, headers: Mapping[str, str], outcomes: Counter[str]
) -> str | None:
    """Parse one body in-process; count its outcome; return a failure line or None."""
    try:
        parsed = parse_and_normalise(body, headers, _feed(path), SEEN)
    except ParseError as exc:
        outcomes[f"error:{exc.reason}"] += 1
        return None
    except Exception:
        return f"{path.relative_to(CORPUS)}: {traceback.format_exc(limit=-3)}"
    return _counted(path, parsed, outcomes)


async def _check_in_pool(
    pool: ParsePool, path: Path, result: FetchResult, outcomes: Counter[str]
) -> str | None:
    """:func:`_check` through a ParsePool worker."""
    try:
        parsed = await pool.parse(result.body, result.headers, _feed(path), seen=SEEN)
    except ParseError as exc:
        outcomes[f"error:{exc.reason}"] += 1
        return None if exc.reason != "parse_crash" else f"{path.name}: {exc}"
    except Exception:
        return f"{path.relative_to(CORPUS)}: {traceback.format_exc(limit=-3)}"
    return _counted(path, parsed, outcomes)


def _counted(path: Path, parsed: ParsedFeed, outcomes: Counter[str]) -> str | None:
    outcomes["items" if parsed.items else "no_items"] += 1
    for item in parsed.items:
        if item.link is not None and not item.link.startswith(("http://", "https://")):
            return f"{path.relative_to(CORPUS)}: bad link {item.link!r}"
    return None


def test_corpus_in_process() -> None:
    assert len(FILES) > 2000
    outcomes: Counter[str] = Counter()
    failures = [f for p in FILES if (f := _check(p, p.read_bytes(), {}, outcomes))]
    assert not failures, "\n".join(failures)
    assert outcomes["items"] > 500, outcomes


def _content_type(path: Path) -> str:
    """A header for corpus files whose name says how they were served."""
    name = path.stem.lower()
    if "text_plain" in name:
        return "text/plain" + ("; charset=utf-8" if "charset" in name else "")
    if "text_xml" in name:
        return "text/xml" + ("; charset=utf-8" if "charset" in name else "")
    return "application/xml"


async def _serve(request: web.Request) -> web.Response:
    path = (CORPUS / request.match_info["tail"]).resolve()
    if CORPUS not in path.parents or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), headers={"Content-Type": _content_type(path)})


async def test_corpus_over_http_through_the_pool() -> None:
    app = web.Application()
    app.router.add_get("/{tail:.*}", _serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    try:
        config = FetchConfig(allow_networks=(f"127.0.0.1:{port}",), per_host=16)
        async with Fetcher(config) as fetcher, ParsePool(workers=2, timeout=30) as pool:

            async def one(path: Path) -> None:
                url = f"http://127.0.0.1:{port}/{path.relative_to(CORPUS).as_posix()}"
                async with pool.admission() as admit:
                    result = await fetcher.fetch(url, admit=admit)
                    if failure := await _check_in_pool(pool, path, result, outcomes):
                        failures.append(failure)

            await asyncio.gather(*(one(p) for p in FILES))
    finally:
        await runner.cleanup()
    assert not failures, "\n".join(failures)
    assert sum(outcomes.values()) == len(FILES)
    assert outcomes["items"] > 500, outcomes
