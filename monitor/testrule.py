"""``newsmon test-rule``: run rule files over a feed or a JSONL of items and say,
per item, which rules matched and why. Sends nothing, stores nothing.

Items come from ``--feed`` (a file path, or an http(s) URL fetched through the
hardened :class:`~monitor.sources.fetch.Fetcher`, SSRF guard included) and
``--items`` (one JSON object per line: an ``Item.to_dict()`` or its envelope).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from monitor.config import FeedConfig, FetchConfig
from monitor.model import Item, RuleHit, decode, utcnow
from monitor.rules.engine import Engine
from monitor.sources.fetch import Fetcher
from monitor.sources.normalise import normalise
from monitor.sources.parse import parse_feed

PRIVATE_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def feed_items(source: str, *, allow_private: bool = False) -> list[Item]:
    """The items of one feed, from a path or an http(s) URL (FeedError if unusable)."""
    headers: dict[str, str] = {}
    if source.startswith(("http://", "https://")):
        config = FetchConfig(allow_networks=PRIVATE_NETWORKS if allow_private else ())
        result = asyncio.run(_fetch(config, source))
        body, headers = result
    else:
        body = Path(source).read_bytes()
    feed = FeedConfig(url=source, name=source)
    parsed = parse_feed(body, headers, base=source)
    return list(normalise(parsed, feed, seen=utcnow()).items)


async def _fetch(config: FetchConfig, url: str) -> tuple[bytes, dict[str, str]]:
    async with Fetcher(config) as fetcher:
        result = await fetcher.fetch(url)
    return result.body, dict(result.headers)


def jsonl_items(path: str) -> list[Item]:
    """Items from a JSONL file; ValueError names the first bad line."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "type" in data and "data" in data:
                record = decode(line.encode())
                if not isinstance(record, Item):
                    raise ValueError(f"a {type(record).__name__}, not an item")
                items.append(record)
            else:
                items.append(Item.from_dict(data))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: not an item: {exc}") from exc
    return items


def report(engine: Engine, items: Iterable[Item], out: TextIO) -> int:
    """Print what matched each item and why; return how many items matched."""
    matched = total = 0
    counts = {rule.name: 0 for rule in engine.rules}
    for number, item in enumerate(items, 1):
        hits = engine.match(item)
        matched, total = matched + bool(hits), total + 1
        print(f"item {number}: {item.title!r}" + (f" <{item.link}>" if item.link else ""), file=out)
        if not hits:
            print("  no rule matched", file=out)
        for hit in hits:
            counts[hit.rule] += 1
            print("\n".join(explain(hit)), file=out)
    summary = ", ".join(f"{name}={n}" for name, n in counts.items())
    print(f"{matched} of {total} items matched; by rule: {summary}", file=out)
    return matched


def explain(hit: RuleHit) -> Sequence[str]:
    labels = " ".join(f"{k}={v}" for k, v in hit.labels)
    lines = [f"  MATCH {hit.rule} severity={hit.severity}" + (f" {labels}" if labels else "")]
    for e in hit.evidence:
        fuzzy = f" fuzzy={e.score:g}" if e.score < 100 else ""
        lines.append(f"    {e.term}: {e.field}[{e.start}:{e.end}] {e.text!r}{fuzzy}")
    return lines
