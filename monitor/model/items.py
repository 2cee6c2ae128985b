"""Item (sources -> rules), Evidence, RuleHit and Match (rules -> dedup -> alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.model.base import _OPT_STR, _STR, Fields, _checked, iso, parse_iso, utcnow


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

    def to_dict(self) -> dict[str, Any]:
        """As in :meth:`Match.to_dict`'s ``hits``."""
        return _hit_dict(self)


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
