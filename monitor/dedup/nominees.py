"""The candidate stories of an item (pure; both tiers compare an item with them only).

They are those sharing most of the item's rarest title terms and names: ``postings`` is
an inverted index (term -> the stories having it, ``monitor.dedup.events``) read rarest
first within :data:`POSTING_BUDGET` ids (the :data:`MIN_NOMINATORS` rarest always, unless
one is in more than :data:`POSTING_CAP` stories); the stories in at least
:data:`NOMINEE_SHARE` as many of those as the best are nominees, the best
:data:`CANDIDATES` kept (most shared first, ties to the greater story id).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from itertools import chain

from monitor.dedup.features import Features

POSTING_BUDGET = 200
MIN_NOMINATORS = 3  # terms read even over the budget ...
POSTING_CAP = 2000  # ... unless this common
NOMINEE_SHARE = 0.5
CANDIDATES = 8
PAIRWISE = 6  # postings intersected pair by pair (more: counted one id at a time)


def nominees(postings: dict[str, set[str]], features: Features) -> list[str]:
    """The stories sharing most of the candidate's rarest title terms and names."""
    nominating = features.title | features.universal  # a rewrite shares these
    sizes = sorted((len(p), t) for t in nominating if (p := postings.get(t)))
    read: list[set[str]] = []
    budget = POSTING_BUDGET
    for n, (size, term) in enumerate(sizes):  # rarest first: they are the event's
        if size > budget and (n >= MIN_NOMINATORS or size > POSTING_CAP):
            break  # the rarest few always count: in a big window every word is common
        budget -= size
        read.append(postings[term])
    if len(read) <= PAIRWISE:
        return _pairwise(read)
    counts = Counter(chain.from_iterable(read))
    if not counts:
        return []
    return _ranked(counts, max(counts.values()) * NOMINEE_SHARE)


def _ranked(counts: dict[str, int], floor: float) -> list[str]:
    """The best :data:`CANDIDATES` of the stories counted at least ``floor`` (most
    shared first, ties to the greater story id)."""
    if floor > 1:  # those in one posting are out: few are left to rank
        found: Iterable[tuple[int, str]] = [(c, s) for s, c in counts.items() if c >= floor]
    else:  # all, or nearly: rank them as they are (those under the floor rank last)
        found = zip(counts.values(), counts, strict=True)
    return [story for count, story in heapq.nlargest(CANDIDATES, found) if count >= floor]


def _pairwise(read: list[set[str]]) -> list[str]:
    """:func:`_ranked` of a few postings, counted by intersecting them pair by pair.

    Intersections compare the sets' stored hashes and references; counting visits every
    id, and in a window of many stories each visit is a cache miss: most of what choosing
    the candidates cost. The stories in two or more postings are those of the
    intersections; when the best is in three or more, the floor (half the best's) leaves
    out every story found in one, and only they are counted. Else the best is in at most
    two: every story read is a nominee, those in two first, and the rest rank by id
    alone (sorted in C, not counted)."""
    several: set[str] = set()
    for i, posting in enumerate(read):
        for other in read[i + 1 :]:
            several |= posting & other
    counts = {s: sum(s in p for p in read) for s in several}
    if counts and max(counts.values()) >= 3:
        return _ranked(counts, max(counts.values()) * NOMINEE_SHARE)
    best = sorted(several, reverse=True)[:CANDIDATES]  # each in two postings
    if len(best) < CANDIDATES:
        once = set().union(*read) - several
        best += sorted(once, reverse=True)[: CANDIDATES - len(best)]
    return best
