"""Issue 13, acceptance item 1: today's StoryBook on the labelled story corpus.

Runs :class:`~monitor.dedup.stories.StoryBook` over tests/fixtures/stories (every item
a match with one rule, ``now`` = the item's seen time, a fresh in-memory store per
arrival order), prints the table and the worst offenders, and asserts the acceptance
thresholds. Until the two-tier matcher lands this fails on event recall: the failure
message lists every figure short of its threshold. Run with ``-s`` to see the report
when it passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from storyeval import evaluate, report, shortfalls

from monitor.dedup.stories import StoryBook
from monitor.model import Item, Match, RuleHit
from monitor.store import Store

HIT = (RuleHit("corpus", "medium"),)


def storybook(items: Sequence[Item]) -> list[str]:
    """Today's StoryBook as a clustering: one story id per item, in arrival order."""
    with Store(":memory:") as store:
        book = StoryBook(store)
        return [book.observe(Match(item, HIT), item.seen.timestamp()).story.story_id
                for item in items]  # fmt: skip


@pytest.mark.xfail(strict=True, reason="the two-tier story matcher is being built (issue 13)")
def test_storybook_meets_the_story_acceptance_thresholds() -> None:
    evaluation = evaluate(storybook)
    text = report(evaluation)
    print(text)
    missed = shortfalls(evaluation)
    assert not missed, "\n".join(["below the issue 13 thresholds:", *missed, "", text])
