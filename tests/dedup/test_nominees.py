"""Candidate stories: the fast paths of ``nominees`` rank as counting every id does."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from itertools import chain

import pytest

from monitor.dedup.events import EventIndex
from monitor.dedup.features import Features, features
from monitor.dedup.nominees import CANDIDATES, NOMINEE_SHARE, POSTING_BUDGET, nominees
from monitor.model import Item, Match


def _features(title: frozenset[str]) -> Features:
    empty: frozenset[str] = frozenset()
    return Features(title, title, empty, empty, empty, empty, empty, empty, empty, empty)


def _reference(read: list[set[str]]) -> list[str]:
    """The definition: count every story read, keep those with at least half the best's
    count, the best CANDIDATES by (count, story id), greatest first."""
    counts = Counter(chain.from_iterable(read))
    if not counts:
        return []
    floor = max(counts.values()) * NOMINEE_SHARE
    ranked = heapq.nlargest(CANDIDATES, ((c, s) for s, c in counts.items() if c >= floor))
    return [s for _, s in ranked]


@pytest.mark.parametrize("seed", range(300))
def test_nominees_rank_as_counting_every_story_does(seed: int) -> None:
    rng = random.Random(seed)
    stories = [f"{rng.getrandbits(40):010x}" for _ in range(rng.choice((12, 40, 400)))]
    terms = [f"t{n}" for n in range(rng.randint(0, 9))]
    postings = {t: set(rng.sample(stories, rng.randint(1, min(60, len(stories))))) for t in terms}
    read, budget = [], POSTING_BUDGET
    for n, (size, term) in enumerate(sorted((len(p), t) for t, p in postings.items())):
        if size > budget and n >= 3:
            break
        budget -= size
        read.append(postings[term])
    assert nominees(postings, _features(frozenset(terms))) == _reference(read)


def test_a_story_sharing_the_rare_terms_comes_first() -> None:
    index = EventIndex()
    titles = ["Erdogan opens new Kars airport terminal", "Kars airport delays flights",
              "Erdogan visits Baku", "Airport strike in Lisbon"]  # fmt: skip
    for n, title in enumerate(titles):
        item = Item(id=f"i{n}", feed_url="https://a.example/rss", feed="a", source="a",
                    title=title, link=f"https://a.example/{n}")  # fmt: skip
        index.add(f"s{n}/0", f"s{n}", features(Match(item, ())), 0.0)
    probe = Item(id="p", feed_url="https://b.example/rss", feed="b", source="b",
                 title="Erdogan inaugurates Kars airport terminal",
                 link="https://b.example/p")  # fmt: skip
    found = index.candidates(features(Match(probe, ())))
    assert found[0] == "s0"
    assert "s3" not in found  # one common word only, far under half the best's count
