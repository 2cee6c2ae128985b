"""The records that flow between stages, and their versioned JSON envelope.

``Item`` (sources -> rules), ``Match`` (rules -> dedup/alerts) and ``Alert``
(alerts -> sinks) are frozen and hold only plain values, so any stage can be
fed, tested and benchmarked in isolation. On a bus that serialises (Kafka),
each record travels as an envelope::

    {"type": "item", "v": 1, "data": {...}}

``decode`` refuses unknown types and versions with ``ValueError`` so a
consumer can dead-letter them instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of one feed, normalised.

    ``id`` is stable for the entry within its feed (GUID, else canonical link,
    else a hash of title and date); ``link`` is the canonical http(s) link or None.
    ``title`` and ``summary`` are plain text. Times are timezone-aware UTC.
    """

    id: str
    feed_url: str
    feed: str  # the feed's name in config (or its URL); bounded by config
    source: str  # the outlet as people know it: the feed's own title, else ``feed``
    title: str
    summary: str = ""
    link: str | None = None
    published: datetime | None = None
    seen: datetime = field(default_factory=utcnow)
    language: str | None = None
    guid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies, and this runs for every item on the bus
        return {
            "id": self.id, "feed_url": self.feed_url, "feed": self.feed, "source": self.source,
            "title": self.title, "summary": self.summary, "link": self.link,
            "published": iso(self.published), "seen": iso(self.seen),
            "language": self.language, "guid": self.guid,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Item:
        d = dict(d)
        d["published"] = parse_iso(d.get("published"))
        d["seen"] = parse_iso(d.get("seen")) or utcnow()
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a term matched: the term, the field it was found in, the text that
    matched, its span in the normalised field and the fuzzy score (100 = exact)."""

    term: str
    field: str
    text: str
    start: int
    end: int
    score: float = 100.0


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that matched an item, with its routing facts and evidence."""

    rule: str
    severity: str
    labels: tuple[tuple[str, str], ...] = ()
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """An item and every rule it matched."""

    item: Item
    hits: tuple[RuleHit, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(h.rule for h in self.hits)

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.to_dict(), "hits": [_hit_dict(h) for h in self.hits]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Match:
        hits = tuple(
            RuleHit(
                rule=h["rule"],
                severity=h["severity"],
                labels=tuple((str(k), str(v)) for k, v in h.get("labels", ())),
                evidence=tuple(Evidence(**e) for e in h.get("evidence", ())),
            )
            for h in d["hits"]
        )
        return cls(item=Item.from_dict(d["item"]), hits=hits)


def _hit_dict(hit: RuleHit) -> dict[str, Any]:
    return {
        "rule": hit.rule,
        "severity": hit.severity,
        "labels": [list(pair) for pair in hit.labels],
        "evidence": [_evidence_dict(e) for e in hit.evidence],
    }


def _evidence_dict(e: Evidence) -> dict[str, Any]:
    return {"term": e.term, "field": e.field, "text": e.text, "start": e.start, "end": e.end,
            "score": e.score}  # fmt: skip


SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    """What a receiver is told: one story, the rules it matched and the evidence.

    ``to_dict`` is the JSONL line the file sink writes (ARCHITECTURE.md)."""

    alert_id: str
    story_id: str
    receiver: str
    rules: tuple[str, ...]
    severity: str
    title: str
    link: str | None
    source: str
    published: datetime | None
    matched: tuple[tuple[str, tuple[Evidence, ...]], ...]
    duplicates: tuple[str, ...] = ()
    summary: str = ""
    item_id: str = ""
    feed_url: str = ""
    created: datetime = field(default_factory=utcnow)
    item_seen: datetime | None = None  # when newsmon first saw the item (end-to-end latency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "story_id": self.story_id,
            "receiver": self.receiver,
            "rules": list(self.rules),
            "severity": self.severity,
            "title": self.title,
            "link": self.link,
            "source": self.source,
            "published": iso(self.published),
            "matched": {
                term: [{k: v for k, v in _evidence_dict(e).items() if k != "term"} for e in ev]
                for term, ev in self.matched
            },
            "duplicates": list(self.duplicates),
            "summary": self.summary,
            "item_id": self.item_id,
            "feed_url": self.feed_url,
            "created": iso(self.created),
            "item_seen": iso(self.item_seen),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        return cls(
            alert_id=d["alert_id"],
            story_id=d["story_id"],
            receiver=d["receiver"],
            rules=tuple(d["rules"]),
            severity=d["severity"],
            title=d["title"],
            link=d.get("link"),
            source=d["source"],
            published=parse_iso(d.get("published")),
            matched=tuple(
                (term, tuple(Evidence(term=term, **e) for e in ev))
                for term, ev in d.get("matched", {}).items()
            ),
            duplicates=tuple(d.get("duplicates", ())),
            summary=d.get("summary", ""),
            item_id=d.get("item_id", ""),
            feed_url=d.get("feed_url", ""),
            created=parse_iso(d.get("created")) or utcnow(),
            item_seen=parse_iso(d.get("item_seen")),
        )


Record = Item | Match | Alert
_TYPES: dict[str, type[Item] | type[Match] | type[Alert]] = {
    "item": Item,
    "match": Match,
    "alert": Alert,
}
_NAMES = {v: k for k, v in _TYPES.items()}


def encode(record: Record) -> bytes:
    """The versioned JSON envelope of a record, as UTF-8 bytes."""
    envelope = {"type": _NAMES[type(record)], "v": SCHEMA_VERSION, "data": record.to_dict()}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def decode(raw: bytes) -> Record:
    """Inverse of :func:`encode`; ``ValueError`` on anything it does not know."""
    try:
        envelope = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON envelope: {exc}") from exc
    if not isinstance(envelope, dict):
        raise ValueError("envelope is not an object")
    kind, version = envelope.get("type"), envelope.get("v")
    if kind not in _TYPES:
        raise ValueError(f"unknown record type {kind!r}")
    if version != SCHEMA_VERSION:
        raise ValueError(f"unknown schema version {version!r} for {kind}")
    try:
        return _TYPES[kind].from_dict(envelope["data"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad {kind} record: {exc}") from exc
