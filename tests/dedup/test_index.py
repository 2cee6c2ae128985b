"""The candidate index: copies are found among many stories whose common words are
over the search budget; eviction and touch keep it bounded by the window."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from monitor.dedup.fingerprint import signature
from monitor.dedup.index import POSTING_BUDGET, StoryIndex

ENTITIES = ["Turkey", "Russia", "S-400", "F-35", "sanctions", "Erdogan", "NATO", "Patriot"]
STORIES = 3 * POSTING_BUDGET  # each entity word in more stories than the budget


def syllables(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


@pytest.fixture
def window() -> tuple[StoryIndex, list[str]]:
    """A window where every story has three of eight entity words and three rare words."""
    rng = random.Random(5)
    index, titles = StoryIndex(), []
    for n in range(STORIES):
        words = rng.sample(ENTITIES, 3) + [syllables(rng) for _ in range(3)]
        rng.shuffle(words)
        titles.append(" ".join(words).capitalize())
        index.add(f"s{n}", signature(titles[-1]), float(n))
    return index, titles


def test_every_entity_word_is_over_the_budget(window: tuple[StoryIndex, list[str]]) -> None:
    _, titles = window
    counts = Counter(t for title in titles for t in signature(title).tokens)
    assert all(counts[signature(e).tokens[0]] > POSTING_BUDGET for e in ENTITIES)


@pytest.mark.parametrize(
    ("story", "copy"),
    [
        # only common words: nominated through them, not through a rare word
        ("Turkey, Russia discuss S-400, sanctions with NATO and Erdogan",
         "UPDATE 1-Turkey, Russia discuss S-400, sanctions with NATO and Erdogan - Reuters"),
        # common words and one rare word, which the copy keeps
        ("Turkey Russia S-400 sanctions NATO Erdogan zorblat",
         "Turkey, Russia: S-400 sanctions, NATO, Erdogan and zorblat"),
        # a rare word of the story dropped by the copy
        ("Turkey Russia S-400 sanctions NATO zorblat grimble",
         "Turkey Russia S-400 sanctions NATO zorblat"),
        # a rare word the story does not have, added by the copy
        ("Turkey Russia S-400 sanctions NATO Erdogan plinth",
         "Turkey Russia S-400 sanctions NATO Erdogan plinth in Wuvaka"),
    ],
)  # fmt: skip
def test_a_copy_made_of_common_words_is_found(
    window: tuple[StoryIndex, list[str]], story: str, copy: str
) -> None:
    index, _ = window
    index.add("target", signature(story), float(STORIES))
    assert index.find(signature(copy)) == "target"


def test_copies_of_window_stories_are_found(window: tuple[StoryIndex, list[str]]) -> None:
    index, titles = window
    rng = random.Random(9)
    for n in rng.sample(range(STORIES), 40):
        assert index.find(signature("EXCLUSIVE-" + titles[n].upper())) == f"s{n}"


def test_new_stories_on_the_same_entities_are_not_copies(
    window: tuple[StoryIndex, list[str]],
) -> None:
    index, _ = window
    rng = random.Random(13)
    for _ in range(40):
        words = rng.sample(ENTITIES, 3) + [syllables(rng) + "x" for _ in range(3)]
        assert index.find(signature(" ".join(words))) is None


def test_the_same_lead_is_a_candidate_whatever_the_title() -> None:
    lead = (
        "ANKARA (Reuters) - The first parts of the Russian S-400 missile defence system "
        "were delivered to Murted air base near Ankara on Friday, the ministry said."
    )
    index = StoryIndex()
    index.add("a", signature("Ankara takes delivery of Russian missile system", lead), 0.0)
    assert index.find(signature("Turkey receives first parts of Russian S-400 system", lead)) == "a"
    assert index.find(signature("Turkey receives first parts of Russian S-400 system")) is None


def test_evict_drops_stories_not_seen_since_the_cutoff() -> None:
    index = StoryIndex()
    index.add("old", signature("Pentagon moves to suspend Turkey from F-35 programme"), 10.0)
    index.add("new", signature("Lockheed Martin cuts F-35 price in new contract"), 20.0)
    assert index.evict(15.0) == ["old"]
    assert len(index) == 1
    assert index.find(signature("Pentagon moves to suspend Turkey from the F-35 programme")) is None
    assert index.find(signature("Lockheed Martin cuts F-35 price in new contract")) == "new"
    assert index.evict(15.0) == []
    assert index.evict(25.0) == ["new"] and len(index) == 0


def test_touch_keeps_a_story_in_the_window() -> None:
    index = StoryIndex()
    sig = signature("Pentagon moves to suspend Turkey from F-35 programme")
    index.add("s", sig, 10.0)
    index.touch("s", 30.0)
    index.touch("s", 20.0)  # an older sighting does not shorten its life
    assert index.evict(25.0) == []  # the stale heap entry at 10 does not evict it
    assert index.find(sig) == "s"
    assert index.evict(31.0) == ["s"]
    index.touch("s", 40.0)  # a story no longer indexed: nothing happens
    assert len(index) == 0


def test_adding_a_known_story_touches_it() -> None:
    index = StoryIndex()
    sig = signature("Lockheed Martin cuts F-35 price in new contract")
    index.add("s", sig, 10.0)
    index.add("s", sig, 30.0)
    assert len(index) == 1
    assert index.evict(20.0) == []


def test_find_skips_stories_seen_before_since() -> None:
    index = StoryIndex()
    sig = signature("Lockheed Martin cuts F-35 price in new contract")
    index.add("s", sig, 10.0)
    assert index.find(sig, since=10.0) == "s"
    assert index.find(sig, since=11.0) is None
