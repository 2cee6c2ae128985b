"""Story and StoryMember: a story as it stands, for the alerts stage, the bus and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.model.base import _OPT_STR, _STR, Fields, _checked, iso, parse_iso, utcnow
from monitor.model.items import Item, RuleHit, _hit, _hit_dict

SEVERITIES = ("low", "medium", "high", "critical")
EVENTS = ("created", "updated", "escalated")  # what happened to the story
MODES = ("post", "edit", "followup")  # how a receiver is told (see Alert)


@dataclass(frozen=True, slots=True)
class StoryMember:
    """One item of a story, as the alerts stage and the receivers see it: where it
    ran, how it joined (``tier``), when on the story's clock (``at``), and what it
    brought (the rules its own match hit, its entities and numbers)."""

    source: str
    title: str
    link: str | None = None
    published: datetime | None = None
    tier: str = "first"  # first | copy (the same article) | event (a rewrite)
    at: datetime | None = None
    rules: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    item_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "title": self.title, "link": self.link,
                "published": iso(self.published), "tier": self.tier, "at": iso(self.at),
                "rules": list(self.rules), "entities": list(self.entities),
                "numbers": list(self.numbers), "item_id": self.item_id}  # fmt: skip

    @classmethod
    def from_dict(cls, d: object) -> StoryMember:
        f = _checked(d, "member", {"source": _STR, "title": _STR}, _MEMBER_OPTIONAL)
        rules, entities, numbers = (tuple(f.get(k, ())) for k in ("rules", "entities", "numbers"))
        if not all(type(x) is str for x in (*rules, *entities, *numbers)):
            raise ValueError("member.rules, entities and numbers hold strings only")
        return cls(f["source"], f["title"], f.get("link"), parse_iso(f.get("published")),
                   f.get("tier", "first"), parse_iso(f.get("at")), rules, entities, numbers,
                   f.get("item_id", ""))  # fmt: skip


_MEMBER_OPTIONAL: Fields = {"link": _OPT_STR, "published": _OPT_STR, "tier": _STR,
                            "at": _OPT_STR, "rules": (list,), "entities": (list,),
                            "numbers": (list,), "item_id": _STR}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Story:
    """A story as it stands, for the alerts stage (and the bus, the API, the UI):
    its first item (what alerts show), one hit per rule it matched, its members in
    the order they joined, and ``version`` (1 when created, one more per change)."""

    story_id: str
    version: int
    item: Item
    hits: tuple[RuleHit, ...]
    members: tuple[StoryMember, ...]
    created: datetime
    updated: datetime

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(h.rule for h in self.hits)

    @property
    def outlets(self) -> tuple[str, ...]:
        """The distinct outlets that carried it, in the order they did."""
        return tuple(dict.fromkeys(m.source for m in self.members))

    @property
    def severity(self) -> str:
        return max((h.severity for h in self.hits), key=_severity_rank, default="medium")

    def to_dict(self) -> dict[str, Any]:
        return {"story_id": self.story_id, "version": self.version,
                "item": self.item.to_dict(), "hits": [_hit_dict(h) for h in self.hits],
                "members": [m.to_dict() for m in self.members],
                "created": iso(self.created), "updated": iso(self.updated)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: object) -> Story:
        f = _checked(d, "story", _STORY_FIELDS)
        return cls(f["story_id"], f["version"], Item.from_dict(f["item"]),
                   tuple(_hit(h) for h in f["hits"]),
                   tuple(StoryMember.from_dict(m) for m in f["members"]),
                   parse_iso(f["created"]) or utcnow(),
                   parse_iso(f["updated"]) or utcnow())  # fmt: skip


_STORY_FIELDS: Fields = {"story_id": _STR, "version": (int,), "item": (dict,), "hits": (list,),
                         "members": (list,), "created": _STR, "updated": _STR}  # fmt: skip


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
