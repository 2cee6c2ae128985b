"""Stories: which matches are one story, within a window (default 48 h).

:class:`StoryBook` sees every match. An item joins an existing story when it
has one of the story's exact keys (same canonical link or global GUID: an
update of the same article, with a new title or GUID, joins too), else when
the index finds a near-duplicate (``fingerprint.similarity``); otherwise it
starts a new story. A story keeps its first item (what alerts show), every
rule it matched (with the first evidence per rule), the outlets that carried
it and how many copies were seen.

A story joins only within its window: one last seen longer ago than the
window is never joined, even before :meth:`StoryBook.evict` drops it.

Stories are persisted in the store on every change, so a restart keeps them;
on start the stories of the window are loaded back into the index. Memory is
bounded by the window: older stories are evicted from the index and the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.dedup.fingerprint import (
    TITLE_THRESHOLD,
    Signature,
    exact_keys,
    signature,
    story_id,
)
from monitor.dedup.index import StoryIndex
from monitor.model import SEVERITIES, Item, Match, RuleHit
from monitor.store import Store, StoryRow

DEFAULT_WINDOW = 48 * 3600.0


@dataclass(frozen=True, slots=True)
class Story:
    story_id: str
    item: Item  # the first item: what alerts show
    hits: tuple[RuleHit, ...]  # one per rule matched, first evidence kept
    outlets: tuple[str, ...]  # sources in the order seen; the first is the item's
    copies: int = 1  # items seen (the first included)
    created: float = 0.0
    last_seen: float = 0.0

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(h.rule for h in self.hits)

    @property
    def duplicates(self) -> tuple[str, ...]:
        """The other outlets that carried the story."""
        return self.outlets[1:]

    @property
    def severity(self) -> str:
        return max((h.severity for h in self.hits), key=SEVERITIES.index, default="medium")

    def as_match(self) -> Match:
        return Match(self.item, self.hits)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one match did: ``new`` story, ``copy`` of a story (a duplicate
    absorbed), and whether the story's rules grew."""

    story: Story
    new: bool
    new_rules: tuple[str, ...] = field(default=())

    @property
    def copy(self) -> bool:
        return not self.new


class StoryBook:
    def __init__(
        self, store: Store, window: float = DEFAULT_WINDOW, threshold: float = TITLE_THRESHOLD
    ) -> None:
        self.store = store
        self.window = window
        self.index = StoryIndex(threshold)

    def load(self, now: float) -> int:
        """Forget stories older than the window; index the rest. Returns how many."""
        cutoff = now - self.window
        self.store.forget_stories_before(cutoff)
        rows = self.store.stories_since(cutoff)
        for row in rows:
            self.index.add(row.story_id, _signature(row), row.last_seen)
        return len(rows)

    def observe(self, match: Match, now: float) -> Observed:
        item = match.item
        sig = signature(item.title, item.summary)
        keys = exact_keys(item)
        cutoff = now - self.window
        found = self.store.story_for_keys(keys)
        row = self.store.story(found) if found else None
        if row is None or row.last_seen < cutoff:  # not evicted yet, but out of the window
            found = self.index.find(sig, since=cutoff)
            row = self.store.story(found) if found else None
        if row is None:
            story = Story(story_id(item), item, _first_hits(match.hits), (item.source,),
                          created=now, last_seen=now)  # fmt: skip
            self._save(story, sig, keys)
            self.index.add(story.story_id, sig, now)
            return Observed(story, new=True, new_rules=story.rules)
        old = _decode(row)
        story = _join(old, match, now)
        self._save(story, _signature(row), keys)
        self.index.touch(story.story_id, now)
        return Observed(story, new=False, new_rules=story.rules[len(old.rules) :])

    def get(self, story_id: str) -> Story | None:
        row = self.store.story(story_id)
        return _decode(row) if row else None

    def evict(self, now: float) -> int:
        cutoff = now - self.window
        dropped = self.index.evict(cutoff)
        self.store.forget_stories_before(cutoff)
        return len(dropped)

    def _save(self, story: Story, sig: Signature, keys: tuple[str, ...]) -> None:
        title = [sig.title, list(sig.tokens), sorted(sig.names)]
        title_sig = json.dumps(title, ensure_ascii=False)
        lead_sig = json.dumps([sig.lead, sig.lead_key], ensure_ascii=False)
        row = StoryRow(story.story_id, story.created, story.last_seen, title_sig, lead_sig,
                       json.dumps(_encode(story), ensure_ascii=False))  # fmt: skip
        self.store.save_story(row, keys)


def _first_hits(hits: tuple[RuleHit, ...]) -> tuple[RuleHit, ...]:
    first: dict[str, RuleHit] = {}
    for hit in hits:
        first.setdefault(hit.rule, hit)
    return tuple(first.values())


def _join(story: Story, match: Match, now: float) -> Story:
    known = set(story.rules)
    hits = story.hits + tuple(h for h in _first_hits(match.hits) if h.rule not in known)
    source = match.item.source
    outlets = story.outlets if source in story.outlets else (*story.outlets, source)
    return replace(story, hits=hits, outlets=outlets, copies=story.copies + 1, last_seen=now)


def _signature(row: StoryRow) -> Signature:
    title, tokens, *names = json.loads(row.title_sig)
    lead, lead_key = json.loads(row.lead_sig)
    if not names:  # stored before names were kept: derive them from the story's item
        item = _decode(row).item
        return signature(item.title, item.summary)
    return Signature(title, tuple(tokens), lead, lead_key, frozenset(names[0]))


def _encode(story: Story) -> dict[str, Any]:
    match = story.as_match().to_dict()
    return {"match": match, "outlets": list(story.outlets), "copies": story.copies}


def _decode(row: StoryRow) -> Story:
    data = json.loads(row.data)
    match = Match.from_dict(data["match"])
    return Story(row.story_id, match.item, match.hits, tuple(data["outlets"]),
                 int(data["copies"]), row.created, row.last_seen)  # fmt: skip
