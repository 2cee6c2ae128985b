"""A restarted StoryBook decides as the live one did (the stored members' features
computed again).

The guard tool (``verdicts.py``) dumps every verdict of a long stream; this test runs a
short one: a window of bench stories observed, then probes (copies, rewrites, new
stories) decided by the live book and by a book loaded from the same store.
"""

from __future__ import annotations

import random

from storycorpus import load
from verdicts import NOW

from bench.stories import _item, _lead, _match, _probes, _title, _word
from monitor.dedup.features import features
from monitor.dedup.stories import StoryBook, Verdict
from monitor.model import Match
from monitor.store import Store


def test_a_restarted_book_decides_every_probe_as_the_live_book() -> None:
    rng = random.Random(11)
    vocabulary = [_word(rng) for _ in range(2_000)]
    stories = [(_title(rng, vocabulary), _lead(rng, vocabulary)) for _ in range(300)]
    with Store(":memory:") as store:
        live = StoryBook(store)
        ids = [live.observe(_match(_item(n, t, s, "wire")), NOW).story.story_id
               for n, (t, s) in enumerate(stories)]  # fmt: skip
        probes = [_match(item) for item, _, _ in _probes(rng, stories, ids, vocabulary, 300)]
        restarted = StoryBook(store)
        assert restarted.load(NOW) == len(live.events)
        before = [_decision(live.decide(m, NOW)) for m in probes]
        after = [_decision(restarted.decide(m, NOW)) for m in probes]
    assert after == before
    assert {tier for _, tier, _ in before} == {"first", "copy", "event"}  # both tiers ran


def _decision(verdict: Verdict) -> tuple[str | None, str, str | None]:
    """The story joined, the tier and the member matched. Not the score: a member's bag
    weights are recounted only when the window grew by ``events.TOTALS_SLACK``, so an
    event score after a restart (all recounted) may differ in the third decimal."""
    story = verdict.story.story_id if verdict.story is not None else None
    return story, verdict.member.tier, verdict.member.matched


def test_a_title_bag_is_inside_the_item_bags() -> None:
    """The event index weighs an item's ``words | universal`` and reads the weights of
    its title bags from them: every fixture item's and bench item's must be there."""
    rng = random.Random(5)
    vocabulary = [_word(rng) for _ in range(500)]
    bench = [_match(_item(n, _title(rng, vocabulary), _lead(rng, vocabulary), "wire"))
             for n in range(200)]  # fmt: skip
    matches = [Match(x.item, ()) for x in load().items] + bench
    for match in matches:
        f = features(match)
        assert f.title <= f.words and f.title_universal <= f.universal, match.item.title
