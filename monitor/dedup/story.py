"""A story and its members as the rest of newsmon sees them, and their stored JSON.

A :class:`Story` is its members in join order, each with why it joined (:class:`Member`:
its tier, score and the member it matched); the first member's item is what alerts
show. ``hits`` keep one :class:`~monitor.model.RuleHit` per rule, the first evidence;
``outlets`` the distinct sources in order. ``version`` is 1 when the story is created
and one more per member joined. ``created`` and ``last_seen`` are on the story clock
(``monitor.dedup.clock``). A story's first member may have a :class:`NearMiss`: the
story it nearly joined and the reason it did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.model import SEVERITIES, Item, Match, RuleHit

TIERS = ("first", "copy", "event")


@dataclass(frozen=True, slots=True)
class Member:
    item: Item
    tier: str  # first | copy (the same article) | event (a rewrite of the event)
    score: float  # what it joined by: 100 for an exact key, the title similarity, the event score
    matched: str | None  # the item id of the member it matched (None for the first)
    at: float  # its time on the story clock
    rules: tuple[str, ...] = ()  # the rules its own match hit
    entities: frozenset[str] = frozenset()  # its own, normalised (features.entities)
    numbers: frozenset[str] = frozenset()
    hits: tuple[RuleHit, ...] = field(default=(), repr=False)  # its match's hits (evidence)

    def as_match(self) -> Match:
        return Match(self.item, self.hits)


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Why an item started its own story: the nearest story, its member, the score."""

    story_id: str
    member: str  # item id
    score: float
    veto: str  # "place: turkey / india", "below threshold", ...


@dataclass(frozen=True, slots=True)
class Story:
    story_id: str
    members: tuple[Member, ...]
    hits: tuple[RuleHit, ...]
    outlets: tuple[str, ...]
    created: float
    last_seen: float
    version: int = 1
    near_miss: NearMiss | None = None

    @property
    def item(self) -> Item:
        return self.members[0].item

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(h.rule for h in self.hits)

    @property
    def duplicates(self) -> tuple[str, ...]:
        """The other outlets that carried the story."""
        return self.outlets[1:]

    @property
    def copies(self) -> int:
        """Items seen, the first included."""
        return len(self.members)

    @property
    def severity(self) -> str:
        return max((h.severity for h in self.hits), key=SEVERITIES.index, default="medium")

    @property
    def entities(self) -> frozenset[str]:
        return frozenset().union(*(m.entities for m in self.members))

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset().union(*(m.numbers for m in self.members))

    def as_match(self) -> Match:
        return Match(self.item, self.hits)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one match did: started a story (``new``) or joined one as ``member``."""

    story: Story
    new: bool
    member: Member
    near_miss: NearMiss | None = None
    new_rules: tuple[str, ...] = ()

    @property
    def copy(self) -> bool:
        return not self.new


def first_hits(hits: tuple[RuleHit, ...]) -> tuple[RuleHit, ...]:
    first: dict[str, RuleHit] = {}
    for hit in hits:
        first.setdefault(hit.rule, hit)
    return tuple(first.values())


def encode_member(m: Member) -> dict[str, Any]:
    return {"match": m.as_match().to_dict(), "tier": m.tier, "score": m.score,
            "matched": m.matched, "at": m.at}  # fmt: skip


def decode_member(
    data: dict[str, Any], entities: frozenset[str], numbers: frozenset[str]
) -> Member:
    match = Match.from_dict(data["match"])
    tier = data["tier"] if data.get("tier") in TIERS else "first"
    return Member(match.item, tier, float(data["score"]), data.get("matched"), float(data["at"]),
                  match.rules, entities, numbers, match.hits)  # fmt: skip


def encode_story(s: Story) -> dict[str, Any]:
    miss = s.near_miss
    return {
        "v": 2,
        "hits": [h.to_dict() for h in s.hits],
        "outlets": list(s.outlets),
        "version": s.version,
        "created": s.created,
        "last_seen": s.last_seen,
        "near_miss": None if miss is None else [miss.story_id, miss.member, miss.score, miss.veto],
    }


def decode_story(story_id: str, data: dict[str, Any], members: tuple[Member, ...]) -> Story:
    hits = Match.from_dict({"item": members[0].item.to_dict(), "hits": data["hits"]}).hits
    miss = data.get("near_miss")
    near = None if not miss else NearMiss(str(miss[0]), str(miss[1]), float(miss[2]), str(miss[3]))
    return Story(story_id, members, hits, tuple(data["outlets"]), float(data["created"]),
                 float(data["last_seen"]), int(data["version"]), near)  # fmt: skip
