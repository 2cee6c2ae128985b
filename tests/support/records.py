"""Record factories: an Item, a RuleHit, a Match, an Alert, each with plausible
defaults a test overrides by keyword."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.model import Alert, Evidence, Item, Match, RuleHit, Story, StoryMember

PUBLISHED = datetime(2019, 7, 12, 6, 5, tzinfo=UTC)


def item(n: int | str = 1, **fields: Any) -> Item:
    """Item ``n`` of a wire feed: id ``g{n}``, link ``https://wire.example/{n}``."""
    values: dict[str, Any] = {
        "id": f"g{n}", "feed_url": "https://wire.example/rss", "feed": "wire",
        "source": "Wire", "title": "Russia to share S-400 technology with Turkey",
        "link": f"https://wire.example/{n}", "published": PUBLISHED,
    }  # fmt: skip
    return Item(**{**values, **fields})


def hit(rule: str = "s400", severity: str = "high", term: str = "S-400", **fields: Any) -> RuleHit:
    evidence = (Evidence(term, "title", term, 17, 17 + len(term)),)
    values: dict[str, Any] = {"labels": (("desk", "defence"),), "evidence": evidence}
    return RuleHit(rule, severity, **{**values, **fields})


def match(of: Item | None = None, *hits: RuleHit) -> Match:
    return Match(of or item(), hits or (hit(),))


def alert(receiver: str, n: int = 1, **item_fields: Any) -> Alert:
    """The alert a receiver gets for story ``story{n}`` made of :func:`item` ``n``."""
    from monitor.alerts.route import alerts_for

    (made,) = alerts_for(match(item(n, **item_fields)), f"story{n}", [receiver])
    return made


def story(*members: Any, story_id: str = "story1", hits: tuple[RuleHit, ...] | None = None,
          first: Item | None = None) -> Story:  # fmt: skip
    """A story of ``members`` (StoryMember, or (source, minutes after the first)
    pairs): its version is one per member, its clock starts at PUBLISHED."""
    made = []
    for n, m in enumerate(members or (("Wire", 0),)):
        if isinstance(m, StoryMember):
            made.append(m)
            continue
        source, minutes = m
        made.append(StoryMember(source, f"title {n}", f"https://{source.lower()}.example/{n}",
                                PUBLISHED, "first" if n == 0 else "event",
                                PUBLISHED + timedelta(minutes=minutes), ("s400",),
                                item_id=f"g{n}"))  # fmt: skip
    last = max(m.at or PUBLISHED for m in made)
    return Story(story_id, len(made), first or item(), hits or (hit(),), tuple(made), PUBLISHED,
                 last)  # fmt: skip
