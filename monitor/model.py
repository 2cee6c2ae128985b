"""The records that flow between stages, and their versioned JSON envelope.

``Item`` (sources -> rules), ``Match`` (rules -> dedup/alerts) and ``Alert``
(alerts -> sinks) are frozen and hold only plain values, so any stage can be
fed, tested and benchmarked in isolation. On a bus that serialises (Kafka),
each record travels as an envelope::

    {"type": "item", "v": 1, "data": {...}}

``decode`` refuses unknown types and versions, and any envelope that is not
exactly what ``encode`` writes (a field missing, unknown or of the wrong type, a
time that is not ISO 8601 text, JSON nested too deep), with ``ValueError``
and nothing else, so a consumer can dead-letter it instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1
Fields = dict[str, tuple[type, ...]]  # field name -> the JSON types it may have
_STR, _OPT_STR = (str,), (str, type(None))


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: object) -> datetime | None:
    """An ISO 8601 time as UTC; None for None or ""; ``ValueError`` for anything else."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time, got {type(text).__name__}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 at +01:00: before datetime.min in UTC
        raise ValueError(f"time out of range: {text[:40]!r}") from exc


def _checked(
    d: object, what: str, required: Fields, optional: Fields | None = None
) -> dict[str, Any]:
    """``d`` if it is an object with every ``required`` field, no field it does not
    know, and each of the types listed for it (exactly: ``True`` is not an int);
    else ``ValueError`` naming the first problem."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} is {type(d).__name__}, not an object")
    optional = optional or {}
    for key, value in d.items():
        types = required.get(key) or optional.get(key)
        if types is None:
            raise ValueError(f"{what} has an unknown field {str(key)[:40]!r}")
        if type(value) not in types:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ValueError(f"{what}.{key} is {type(value).__name__}, expected {expected}")
    if missing := [key for key in required if key not in d]:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    return d


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of one feed, normalised.

    ``id`` is stable for the entry within its feed (GUID, else canonical link,
    else a hash of title and date); ``link`` is the canonical http(s) link or None.
    ``title`` and ``summary`` are plain text. Times are timezone-aware UTC.
    ``date_flag`` says why ``published`` is not exactly the date the feed gave
    (``unparseable``, ``future``, ``too_old``: it is the first-seen time;
    ``date_only``, ``no_zone``: the feed gave no time or no zone); None when it
    is, or when the feed gave no date (then ``published`` is None). It is left
    out of the envelope when None, so unflagged records are what they were.
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
    date_flag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies, and this runs for every item on the bus
        d = {
            "id": self.id, "feed_url": self.feed_url, "feed": self.feed, "source": self.source,
            "title": self.title, "summary": self.summary, "link": self.link,
            "published": iso(self.published), "seen": iso(self.seen),
            "language": self.language, "guid": self.guid,
        }  # fmt: skip
        if self.date_flag is not None:
            d["date_flag"] = self.date_flag
        return d

    @classmethod
    def from_dict(cls, d: object) -> Item:
        f = dict(_checked(d, "item", _ITEM_REQUIRED, _ITEM_OPTIONAL))
        f["published"] = parse_iso(f.get("published"))
        f["seen"] = parse_iso(f.get("seen")) or utcnow()
        return cls(**f)


_ITEM_REQUIRED: Fields = {"id": _STR, "feed_url": _STR, "feed": _STR, "source": _STR, "title": _STR}
_ITEM_OPTIONAL: Fields = {"summary": _STR, "link": _OPT_STR, "published": _OPT_STR,
                          "seen": _OPT_STR, "language": _OPT_STR, "guid": _OPT_STR,
                          "date_flag": _OPT_STR}  # fmt: skip


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
    def from_dict(cls, d: object) -> Match:
        f = _checked(d, "match", {"item": (dict,), "hits": (list,)})
        return cls(item=Item.from_dict(f["item"]), hits=tuple(_hit(h) for h in f["hits"]))


_HIT_REQUIRED: Fields = {"rule": _STR, "severity": _STR}
_HIT_OPTIONAL: Fields = {"labels": (list,), "evidence": (list,)}
_NUMBER = (int, float)
_EVIDENCE: Fields = {"field": _STR, "text": _STR, "start": (int,), "end": (int,), "score": _NUMBER}
_HIT_EVIDENCE: Fields = {"term": _STR, **_EVIDENCE}


def _hit(d: object) -> RuleHit:
    h = _checked(d, "hit", _HIT_REQUIRED, _HIT_OPTIONAL)
    labels = []
    for pair in h.get("labels", ()):
        if not (isinstance(pair, list) and len(pair) == 2 and all(type(x) is str for x in pair)):
            raise ValueError("hit.labels holds something other than [name, value] strings")
        labels.append((pair[0], pair[1]))
    evidence = tuple(_evidence(e, None) for e in h.get("evidence", ()))
    return RuleHit(h["rule"], h["severity"], tuple(labels), evidence)


def _evidence(d: object, term: str | None) -> Evidence:
    """Evidence from its dict: with its ``term`` (a hit's), or under ``term`` (an alert's)."""
    e = _checked(d, "evidence", _HIT_EVIDENCE if term is None else _EVIDENCE)
    return Evidence(e["term"] if term is None else term, e["field"], e["text"], e["start"],
                    e["end"], float(e["score"]))  # fmt: skip


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
    def from_dict(cls, d: object) -> Alert:
        f = _checked(d, "alert", _ALERT_REQUIRED, _ALERT_OPTIONAL)
        matched: dict[str, Any] = f.get("matched", {})
        if not all(isinstance(ev, list) for ev in matched.values()):
            raise ValueError("alert.matched holds something other than lists of evidence")
        if not all(type(x) is str for x in (*f["rules"], *f.get("duplicates", ()))):
            raise ValueError("alert.rules and alert.duplicates hold strings only")
        return cls(
            alert_id=f["alert_id"],
            story_id=f["story_id"],
            receiver=f["receiver"],
            rules=tuple(f["rules"]),
            severity=f["severity"],
            title=f["title"],
            link=f.get("link"),
            source=f["source"],
            published=parse_iso(f.get("published")),
            matched=tuple(
                (term, tuple(_evidence(e, term) for e in ev)) for term, ev in matched.items()
            ),
            duplicates=tuple(f.get("duplicates", ())),
            summary=f.get("summary", ""),
            item_id=f.get("item_id", ""),
            feed_url=f.get("feed_url", ""),
            created=parse_iso(f.get("created")) or utcnow(),
            item_seen=parse_iso(f.get("item_seen")),
        )


_ALERT_REQUIRED: Fields = {
    "alert_id": _STR,
    "story_id": _STR,
    "receiver": _STR,
    "rules": (list,),
    "severity": _STR,
    "title": _STR,
    "source": _STR,
}
_ALERT_OPTIONAL: Fields = {
    "link": _OPT_STR, "published": _OPT_STR, "matched": (dict,), "duplicates": (list,),
    "summary": _STR, "item_id": _STR, "feed_url": _STR, "created": _OPT_STR, "item_seen": _OPT_STR,
}  # fmt: skip

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


def _show(value: object) -> str:
    """A bounded repr of a scalar; a container by its type alone."""
    if value is None or type(value) in (str, int, float, bool):
        return repr(value)[:40]
    return type(value).__name__


def decode(raw: bytes) -> Record:
    """Inverse of :func:`encode`; ``ValueError``, and only that, on anything else."""
    try:
        envelope = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ValueError(f"not a JSON envelope: {exc}") from exc
    except RecursionError:
        raise ValueError("not a JSON envelope: nested too deeply") from None
    if not isinstance(envelope, dict):
        raise ValueError("envelope is not an object")
    kind, version = envelope.get("type"), envelope.get("v")
    if type(kind) is not str or kind not in _TYPES:
        raise ValueError(f"unknown record type {_show(kind)}")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ValueError(f"unknown schema version {_show(version)} for {kind}")
    if set(envelope) != {"type", "v", "data"}:
        raise ValueError(f"envelope fields are {sorted(envelope)[:5]}, not type, v and data")
    try:
        return _TYPES[kind].from_dict(envelope["data"])
    except ValueError as exc:
        raise ValueError(f"bad {kind} record: {exc}") from exc
    except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        # what the type checks above should already have refused: still a bad record
        raise ValueError(f"bad {kind} record: {type(exc).__name__}: {exc}") from exc
