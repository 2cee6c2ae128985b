"""A story's pure changes and its stored rows (for ``monitor.dedup.stories``).

:func:`member_of` is the member a match becomes, :func:`joined` the story with one more
member (its rules, outlets and last time). :func:`encoded` is the rows that store a
story and its newest member; :func:`decoded` reads them back, with each member's
:class:`~monitor.dedup.features.Features` (computed once: a load indexes them, and a
member keeps its entities and numbers).
"""

from __future__ import annotations

from dataclasses import replace

from monitor.dedup.features import Features, features
from monitor.dedup.keys import link_key
from monitor.dedup.story import (
    Member,
    Story,
    decode_member,
    decode_story,
    encode_member,
    encode_story,
    first_hits,
)
from monitor.model import Match, from_json, to_json
from monitor.store import MemberRow, StoryRow


def member_of(
    match: Match, feats: Features, tier: str, score: float, matched: str | None, at: float
) -> Member:
    return Member(match.item, tier, score, matched, at, match.rules, feats.entities,
                  feats.numbers, match.hits)  # fmt: skip


def joined(story: Story, member: Member) -> Story:
    known = set(story.rules)
    hits = story.hits + tuple(h for h in first_hits(member.hits) if h.rule not in known)
    source = member.item.source
    outlets = story.outlets if source in story.outlets else (*story.outlets, source)
    last_seen = max(story.last_seen, member.at)
    members = (*story.members, member)
    return replace(story, members=members, hits=hits, outlets=outlets, last_seen=last_seen,
                   version=story.version + 1)  # fmt: skip


def encoded(story: Story, member: Member, now: float) -> tuple[StoryRow, MemberRow]:
    """The rows that store ``story`` (changed at ``now``) and its last member, ``member``."""
    row = StoryRow(story.story_id, story.created, now, "", "",
                   to_json(encode_story(story)).decode())  # fmt: skip
    link = link_key(member.item.link) if member.item.link else None
    data = to_json(encode_member(member)).decode()
    return row, MemberRow(story.story_id, len(story.members) - 1, member.item.id, link, data)


def decode(row: StoryRow, members: list[MemberRow]) -> Story:
    return decoded(row, members)[0]


def decoded(row: StoryRow, members: list[MemberRow]) -> tuple[Story, list[Features]]:
    """A stored story, and each member's features (computed once: a load indexes them)."""
    data = from_json(row.data)
    if data.get("v") != 2:  # stored before members were kept: the first item, as a member
        match = Match.from_dict(data["match"])
        member = Member(match.item, "first", 0.0, None, row.created, match.rules, hits=match.hits)
        story = Story(row.story_id, (member,), match.hits, tuple(data["outlets"]), row.created,
                      row.created, max(1, int(data.get("copies", 1))))  # fmt: skip
        return story, [features(member.as_match())]
    decoded, found = [], []
    for m in members:
        member = decode_member(from_json(m.data), frozenset(), frozenset())
        feats = features(member.as_match())
        decoded.append(replace(member, entities=feats.entities, numbers=feats.numbers))
        found.append(feats)
    return decode_story(row.story_id, data, tuple(decoded)), found
