"""The labelled story corpus (tests/fixtures/stories/events-*.yaml, distinct.yaml) as Items.

Each fixture record becomes the :class:`~monitor.model.Item` the sources stage would
hand on: the link canonicalised and the id chosen as ``monitor.sources.normalise``
does, ``seen`` = published + a polling delay (1 to 15 minutes, fixed per item).
Labels travel beside the item (:class:`Labelled`): its event, its article (a copy's
root: what it copies, followed to the first non-copy), its kind and its split.
An item of ``distinct.yaml`` written inline is a story of its own. A malformed
fixture raises ``ValueError`` naming the file and the record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.model import Item, parse_iso
from monitor.sources.normalise import canonical_link, item_id

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stories"
KINDS = ("original", "rewrite", "copy")
REASONS = ("place", "number", "actor", "role", "follow-on", "other-event")
REQUIRED = ("id", "outlet", "feed", "title", "summary", "link", "published", "language")
POLL_DELAY = (60, 900)  # seconds from publication to the poll that sees it


@dataclass(frozen=True, slots=True)
class Labelled:
    item: Item
    key: str  # the fixture id
    event: str  # the event id; an inline distinct item is its own event
    article: str  # the key of the article: itself, or the root of what it copies
    kind: str  # original | rewrite | copy | distinct
    holdout: bool


@dataclass(frozen=True, slots=True)
class DistinctPair:
    pair: str
    reason: str
    why: str
    a: str  # item keys
    b: str
    holdout: bool


@dataclass(frozen=True, slots=True)
class Corpus:
    items: tuple[Labelled, ...]  # in file order
    pairs: tuple[DistinctPair, ...]

    def by_key(self) -> dict[str, Labelled]:
        return {x.key: x for x in self.items}


def load(root: Path = FIXTURES) -> Corpus:
    items: list[Labelled] = []
    for path in sorted(root.glob("events-*.yaml")):
        for event in _read(path, "events"):
            items += _event(path, event)
    pairs: list[DistinctPair] = []
    distinct = root / "distinct.yaml"
    if distinct.exists():
        known = {x.key for x in items}
        for raw in _read(distinct, "pairs"):
            pair, inline = _pair(distinct, raw, known)
            items += inline
            known |= {x.key for x in inline}
            pairs.append(pair)
    _check_unique(items)
    return Corpus(tuple(items), tuple(pairs))


def _read(path: Path, key: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ValueError(f"{path.name}: expected a mapping with a list under {key!r}")
    records: list[dict[str, Any]] = data[key]
    return records


def _event(path: Path, event: dict[str, Any]) -> list[Labelled]:
    if not isinstance(event, dict):
        raise ValueError(f"{path.name}: an event is a mapping, not {type(event).__name__}")
    name, records = event.get("event"), event.get("items")
    if not isinstance(name, str) or not isinstance(records, list) or not records:
        raise ValueError(f"{path.name}: an event needs an id and items: {str(event)[:80]}")
    kinds = [r.get("kind") for r in records]
    if kinds[0] != "original" or kinds.count("original") != 1:
        raise ValueError(f"{path.name}: {name}: exactly one original, listed first")
    by_key = {r.get("id"): r for r in records}
    holdout = bool(event.get("holdout", False))
    return [_labelled(path, r, name, _root(path, r, by_key), holdout) for r in records]


def _root(path: Path, record: dict[str, Any], by_key: dict[Any, dict[str, Any]]) -> str:
    seen = set()
    while record.get("kind") == "copy":
        source = by_key.get(record.get("of"))
        if source is None or record["id"] in seen:
            raise ValueError(f"{path.name}: {record.get('id')}: copies {record.get('of')!r}, "
                             "which is not an item of its event")  # fmt: skip
        seen.add(record["id"])
        record = source
    return str(record["id"])


def _pair(path: Path, raw: dict[str, Any], known: set[str]) -> tuple[DistinctPair, list[Labelled]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: a pair is a mapping, not {type(raw).__name__}")
    name, reason = raw.get("pair"), raw.get("reason")
    if not isinstance(name, str) or reason not in REASONS or not raw.get("why"):
        raise ValueError(f"{path.name}: pair {name!r}: needs a name, a reason in {REASONS}, why")
    holdout = bool(raw.get("holdout", False))
    keys, inline = [], []
    for side in ("a", "b"):
        record = raw.get(side)
        if not isinstance(record, dict):
            raise ValueError(f"{path.name}: pair {name}: side {side} missing")
        if "ref" in record:
            if record["ref"] not in known:
                raise ValueError(f"{path.name}: pair {name}: unknown ref {record['ref']!r}")
            keys.append(str(record["ref"]))
            continue
        one = _labelled(path, {**record, "kind": "distinct"}, "", "", holdout)
        inline.append(one)
        keys.append(one.key)
    return DistinctPair(name, reason, str(raw["why"]), keys[0], keys[1], holdout), inline


def _labelled(path: Path, r: dict[str, Any], event: str, article: str, holdout: bool) -> Labelled:
    missing = [f for f in REQUIRED if not isinstance(r.get(f), str) or not r[f]]
    if missing or r.get("kind") not in (*KINDS, "distinct"):
        raise ValueError(f"{path.name}: {r.get('id')}: missing {missing} or bad kind")
    key = r["id"]
    if datetime.fromisoformat(r["published"].replace("Z", "+00:00")).tzinfo is None:
        raise ValueError(f"{path.name}: {key}: published needs ISO 8601 with a zone")
    published = parse_iso(r["published"])
    assert published is not None
    link = canonical_link(r["link"])
    guid = r.get("guid") or None
    delay = POLL_DELAY[0] + _hash(key) % (POLL_DELAY[1] - POLL_DELAY[0])
    item = Item(id=item_id(guid, link, r["title"], published), feed_url=r["feed"],
                feed=r["feed"], source=r["outlet"], title=r["title"], summary=r["summary"],
                link=link, published=published, seen=published + timedelta(seconds=delay),
                language=r["language"], guid=guid)  # fmt: skip
    return Labelled(item, key, event or key, article or key, r["kind"], holdout)


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def _check_unique(items: list[Labelled]) -> None:
    keys: set[str] = set()
    entries: set[tuple[str, str]] = set()
    for x in items:
        entry = (x.item.feed_url, x.item.id)
        if x.key in keys or entry in entries:
            raise ValueError(f"{x.key}: the id, or the feed and item id, is used twice")
        keys.add(x.key)
        entries.add(entry)
