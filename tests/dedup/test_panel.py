"""The bounded panel of a story's members that an item is compared with."""

from __future__ import annotations

from monitor.dedup.panel import FOUNDERS, NEAREST, PANEL, Panel

HOUR = 3600.0


def story(n: int, language: str = "en", step: float = 60.0) -> Panel[int]:
    panel: Panel[int] = Panel()
    for seq in range(n):
        panel.add(seq, language, seq * step, seq)
    return panel


def test_a_small_story_is_compared_whole_in_arrival_order() -> None:
    panel: Panel[int] = Panel()
    for seq, at in enumerate([50.0, 10.0, 30.0]):  # arrival order is not time order
        panel.add(seq, "en", at, seq)
    assert panel.pick("en", 20.0, HOUR) == [0, 1, 2]


def test_a_long_story_gives_its_founders_and_the_members_nearest_in_time() -> None:
    panel = story(500)  # a member a minute
    at = 400 * 60.0 + 1.0  # just after member 400
    picked = panel.pick("en", at, 12 * HOUR)
    assert len(picked) == PANEL
    assert picked[:FOUNDERS] == list(range(FOUNDERS))
    assert picked[FOUNDERS:] == list(range(400 - NEAREST // 2 + 1, 400 + NEAREST // 2 + 1))


def test_only_members_within_the_span_are_picked() -> None:
    panel = story(500, step=HOUR)  # a member an hour: the founders are days away
    picked = panel.pick("en", 300 * HOUR, 3 * HOUR)
    assert picked == [297, 298, 299, 300, 301, 302, 303]
    assert panel.pick("en", 900 * HOUR, HOUR) == []


def test_members_in_the_items_language_judge_it_else_every_language() -> None:
    panel = story(100)
    panel.add(100, "ko", 50 * 60.0, 100)
    assert panel.pick("ko", 50 * 60.0, HOUR) == [100]
    picked = panel.pick("de", 50 * 60.0, HOUR)  # none in German: the others, bounded
    assert len(picked) == PANEL and 100 in picked
