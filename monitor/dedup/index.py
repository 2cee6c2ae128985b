"""The in-memory candidate index of the stories in the window (pure, no I/O).

Near-duplicate search must stay cheap at 100,000 stories: comparing a new
title with every story (the naive baseline in ``bench/stories.py``) costs
milliseconds. Instead each story's title tokens go into an inverted index;
a new item's candidates are nominated by its *rarest* tokens (posting lists
are visited shortest first, within a budget of ``POSTING_BUDGET`` ids, so
"turkey" or "russia" never cost a scan of half the window); the common tokens
over the budget then only add to the counts of the ids already nominated (a set
intersection that costs the nominees, not the posting list); when some story
shares two rare words, only such stories are counted so (a copy shares nearly
all of them). A title whose rare tokens alone cannot reach the share of tokens
a copy needs (a third) is nominated through its common tokens instead: the
stories in two of its three rarest common posting lists. The stories with the
same exact lead key are candidates too. Only the few best candidates are
confirmed with rapidfuzz.

Memory is bounded by the window: :meth:`StoryIndex.evict` drops stories not
seen since the cutoff.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass

from monitor.dedup.fingerprint import TITLE_THRESHOLD, Signature, similarity

POSTING_BUDGET = 1000  # ids counted per search, rarest tokens first
CONFIRM = 8  # best candidates confirmed with rapidfuzz


@dataclass(slots=True)
class _Entry:
    story_id: str
    signature: Signature
    last_seen: float


class StoryIndex:
    def __init__(self, threshold: float = TITLE_THRESHOLD) -> None:
        self.threshold = threshold
        self._entries: dict[int, _Entry] = {}
        self._ids: dict[str, int] = {}
        self._postings: dict[str, set[int]] = {}
        self._leads: dict[str, set[int]] = {}
        self._ages: list[tuple[float, int]] = []  # heap of (last_seen when pushed, n)
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, story_id: str, sig: Signature, last_seen: float) -> None:
        if story_id in self._ids:
            self.touch(story_id, last_seen)
            return
        n = self._next
        self._next += 1
        self._ids[story_id] = n
        self._entries[n] = _Entry(story_id, sig, last_seen)
        for token in sig.tokens:
            self._postings.setdefault(token, set()).add(n)
        if sig.lead_key:
            self._leads.setdefault(sig.lead_key, set()).add(n)
        heapq.heappush(self._ages, (last_seen, n))

    def touch(self, story_id: str, last_seen: float) -> None:
        n = self._ids.get(story_id)
        if n is not None and last_seen > self._entries[n].last_seen:
            self._entries[n].last_seen = last_seen
            heapq.heappush(self._ages, (last_seen, n))

    def find(self, sig: Signature, since: float = -math.inf) -> str | None:
        """The id of the story ``sig`` is a copy of (among those seen at or after
        ``since``), or None."""
        found = self.best(sig, since)
        return found[0] if found else None

    def best(self, sig: Signature, since: float = -math.inf) -> tuple[str, float] | None:
        """The id ``sig`` is most a copy of (seen at or after ``since``), and the score;
        ties go to the id added first."""
        best, best_score = None, self.threshold
        for n in sorted(set(self._candidates(sig))):
            entry = self._entries[n]
            if entry.last_seen < since:
                continue
            score = similarity(sig, entry.signature)
            if score > best_score or (best is None and score >= best_score):
                best, best_score = entry.story_id, score
        return (best, best_score) if best is not None else None

    def remove(self, story_id: str) -> None:
        """Forget an id now (its heap entry is skipped when it comes up)."""
        n = self._ids.pop(story_id, None)
        if n is None:
            return
        entry = self._entries.pop(n)
        for token in entry.signature.tokens:
            _discard(self._postings, token, n)
        if entry.signature.lead_key:
            _discard(self._leads, entry.signature.lead_key, n)

    def _candidates(self, sig: Signature) -> list[int]:
        lists = sorted((p for t in sig.tokens if (p := self._postings.get(t)) is not None), key=len)
        counts: Counter[int] = Counter()
        budget, within = POSTING_BUDGET, 0
        for posting in lists:  # the rare words nominate
            if len(posting) > budget:
                break
            counts.update(posting)
            budget -= len(posting)
            within += 1
        common = lists[within:]
        need = max(1, len(sig.tokens) // 3)
        if within < need and len(common) >= max(2, need):
            pool = set(counts) | _in_two(common[:3])  # a copy made of common words
        elif not counts:
            pool = set(common[0]) if common else set()  # one word, and a common one
            common = common[1:]
            counts.update(pool)
        elif max(counts.values()) < 2:
            pool = set(counts)
        else:  # a copy shares more than one rare word: only such stories need confirming
            pool = {n for n, c in counts.items() if c >= 2}
        for posting in common:  # the common words confirm
            counts.update(pool.intersection(posting))
        found = [n for n, c in counts.items() if c >= need]  # few pass: skip the full sort
        if len(found) > CONFIRM:
            found = heapq.nlargest(CONFIRM, found, key=counts.__getitem__)
        if sig.lead_key:
            found.extend(self._leads.get(sig.lead_key, ()))
        return found

    def evict(self, cutoff: float) -> list[str]:
        """Drop the stories last seen before ``cutoff``; returns their ids."""
        dropped = []
        while self._ages and self._ages[0][0] < cutoff:
            seen, n = heapq.heappop(self._ages)
            entry = self._entries.get(n)
            if entry is None or entry.last_seen != seen or self._ids.get(entry.story_id) != n:
                continue  # touched since: a newer heap entry stands for it
            del self._entries[n], self._ids[entry.story_id]
            for token in entry.signature.tokens:
                _discard(self._postings, token, n)
            if entry.signature.lead_key:
                _discard(self._leads, entry.signature.lead_key, n)
            dropped.append(entry.story_id)
        return dropped


def _in_two(postings: list[set[int]]) -> set[int]:
    """The ids in at least two of ``postings`` (two or three sets)."""
    first, second, *third = postings
    out = first & second
    for other in third:
        out |= (first & other) | (second & other)
    return out


def _discard(index: dict[str, set[int]], key: str, n: int) -> None:
    posting = index.get(key)
    if posting is not None:
        posting.discard(n)
        if not posting:
            del index[key]
