"""A story's lifecycle on the alerts side: what changed since a receiver was told,
when a story is spreading, and what a sync sends (an edit, a follow-up, nothing)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import dispatcher, settle
from support.records import PUBLISHED, story

from monitor.alerts import sync
from monitor.alerts.route import Routed
from monitor.alerts.story import alert_for, changes_since, spreading
from monitor.alerts.sync import EDIT_EVERY, Options, plan
from monitor.config import Escalation
from monitor.model import Alert, StoryMember
from monitor.store import DeliveryRow, EscalationRow

T0 = PUBLISHED.timestamp()


def member(source: str, *, rules: tuple[str, ...] = ("s400",), entities: tuple[str, ...] = (),
           numbers: tuple[str, ...] = (), tier: str = "event") -> StoryMember:  # fmt: skip
    return StoryMember(source, f"{source} title", None, PUBLISHED, tier, PUBLISHED, rules,
                       entities, numbers)  # fmt: skip


def told(version: int, at: float = T0, *, shown: int | None = None,
         followed: float = 0.0) -> DeliveryRow:  # fmt: skip
    return DeliveryRow("story1", "slack", (("channel", "C1"), ("ts", "1.1")),
                       version if shown is None else shown, at, version, at, followed)  # fmt: skip


FIRST = member("Reuters", entities=("S-400", "Turkey"), numbers=("2",), tier="first")


def test_new_outlets_are_news_but_not_significant() -> None:
    s = story(FIRST, member("AP", entities=("S-400",)), member("TASS"))
    changes = changes_since(s, 1, T0)
    assert changes.lines == ("+2 outlets: AP, TASS (3 in all)",)
    assert (changes.significant, changes.escalated, changes.new_members) == (False, False, 2)


def test_a_new_rule_entity_or_number_is_significant() -> None:
    s = story(FIRST, member("AP", rules=("s400", "sanctions"), entities=("Erdoğan", "S-400"),
                            numbers=("2", "4")))  # fmt: skip
    changes = changes_since(s, 1, T0)
    assert changes.significant
    assert changes.lines == ("new rule: sanctions", "new entity: Erdoğan", "new number: 4",
                             "+1 outlet: AP (2 in all)")  # fmt: skip
    assert changes_since(s, 2, T0).lines == ()  # told already


def test_an_escalation_after_the_last_follow_up_is_significant_and_first() -> None:
    s = story(FIRST, member("AP"))
    esc = EscalationRow("story1", "0", 2, "critical", 5, 3600.0, T0 + 60)
    changes = changes_since(s, 2, T0, [esc])
    assert changes.escalated and changes.significant
    assert changes.lines == ("spreading: 5 outlets within 1h (now CRITICAL)",)
    assert not changes_since(s, 2, T0 + 120, [esc]).escalated  # told after it


def test_spreading_counts_distinct_outlets_within_the_window() -> None:
    rule = Escalation(outlets=3, within=3600.0)
    assert spreading(story(("A", 0), ("B", 20), ("B", 25), ("C", 50)), rule)
    assert not spreading(story(("A", 0), ("B", 20), ("B", 25), ("C", 70)), rule)
    assert spreading(story(("A", 0), ("B", 70), ("C", 80), ("D", 100)), rule)  # any window


def test_updates_none_sends_nothing() -> None:
    s = story(FIRST, member("AP", rules=("sanctions",)))
    p = plan(s, told(1), Options("none"), edits=True, now=T0 + 3600, ident="x")
    assert (p.alert, p.defer) == (None, None)


def test_a_significant_change_is_a_follow_up_in_the_thread() -> None:
    s = story(FIRST, member("AP", rules=("sanctions",)))
    p = plan(s, told(1), Options("significant", 600), edits=True, now=T0 + 700, ident="sync1")
    assert p.alert is not None and p.defer is None
    assert (p.alert.mode, p.alert.event, p.alert.alert_id) == ("followup", "updated", "sync1")
    assert p.alert.thread == (("channel", "C1"), ("ts", "1.1"))
    assert p.alert.changes[0] == "new rule: sanctions"
    assert (p.told.told, p.told.told_at, p.told.shown) == (2, T0 + 700, 2)


def test_the_first_follow_up_goes_at_once() -> None:
    s = story(FIRST, member("AP", rules=("sanctions",)))
    p = plan(s, told(1), Options("significant", 600), edits=False, now=T0 + 1, ident="x")
    assert p.alert is not None and p.alert.mode == "followup" and p.told.followed_at == T0 + 1


def test_a_follow_up_inside_the_interval_is_held_and_the_message_edited_meanwhile() -> None:
    s = story(FIRST, member("AP", rules=("sanctions",)))
    now = T0 + 60  # 1 min after the last follow-up; the interval is 10 min
    p = plan(s, told(1, followed=T0), Options("significant", 600), edits=True, now=now, ident="x")
    assert p.alert is not None and p.alert.mode == "edit" and p.defer == T0 + 600
    assert (p.told.shown, p.told.told) == (2, 1)  # shown up to date, the follow-up owed
    held = plan(s, told(1, followed=T0), Options("significant", 600), edits=False, now=now,
                ident="x")  # fmt: skip
    assert (held.alert, held.defer) == (None, T0 + 600)  # nothing to edit: just wait


def test_an_escalation_skips_the_interval() -> None:
    s = story(FIRST, member("AP"))
    esc = EscalationRow("story1", "0", 2, "critical", 2, 3600.0, T0 + 30)
    p = plan(s, told(1), Options("significant", 600), edits=False, now=T0 + 60, ident="x",
             escalations=[esc])  # fmt: skip
    assert p.alert is not None and (p.alert.mode, p.alert.event) == ("followup", "escalated")


def test_copies_only_edit_the_message_or_are_dropped() -> None:
    s = story(FIRST, member("AP", tier="copy"))
    edit = plan(s, told(1), Options(), edits=True, now=T0 + 3600, ident="x")
    assert edit.alert is not None and edit.alert.mode == "edit" and edit.defer is None
    assert plan(s, told(1), Options(), edits=False, now=T0 + 3600, ident="x").alert is None
    every = plan(s, told(1), Options("all", 0), edits=False, now=T0 + 3600, ident="x")
    assert every.alert is not None and every.alert.mode == "followup"  # updates: all


def test_edits_are_spaced() -> None:
    s = story(FIRST, member("AP", tier="copy"))
    recent = replace(told(1), shown_at=T0 + 3595)
    p = plan(s, recent, Options(), edits=True, now=T0 + 3600, ident="x")
    assert (p.alert, p.defer) == (None, T0 + 3595 + EDIT_EVERY)


class Capture:
    """A sink that records what it is given and answers with receipts, as Slack's
    Web API does (a unit-test stand-in; the real sinks are tested against servers)."""

    max_batch = None

    def __init__(self, edits: bool) -> None:
        self.edits = edits
        self.got: list[Alert] = []

    async def __aenter__(self) -> Capture:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> list[dict[str, str]]:
        self.got.extend(alerts)
        return [{"channel": "C1", "ts": f"{len(self.got)}.0"} for _ in alerts]


async def test_a_story_posted_then_followed_up_in_its_thread_then_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "EDIT_EVERY", 0.0)
    stories = {"story1": story(FIRST)}
    sink = Capture(edits=True)
    routed = Routed("slack", "0", updates="significant", update_interval=0.0)
    async with dispatcher(tmp_path, {"slack": sink}) as (d, outbox, metrics):
        outbox.story = stories.get
        outbox.enqueue([(routed, alert_for(stories["story1"], "slack"))], time.time())
        d.wake({"slack"})
        await settle(outbox)
        assert [a.mode for a in sink.got] == ["post"]
        assert outbox.told("story1", "slack") is not None

        stories["story1"] = story(FIRST, member("AP", rules=("s400", "sanctions")))
        assert outbox.enqueue_sync(stories["story1"], [routed], time.time()) == ["slack"]
        assert outbox.enqueue_sync(stories["story1"], [routed], time.time()) == []  # one pending
        d.wake({"slack"})
        await settle(outbox)
        followup = sink.got[-1]
        assert (followup.mode, followup.thread) == ("followup", (("channel", "C1"), ("ts", "1.0")))
        assert followup.changes[0] == "new rule: sanctions" and followup.version == 2

        stories["story1"] = story(*stories["story1"].members, member("TASS", tier="copy"))
        outbox.enqueue_sync(stories["story1"], [routed], time.time())
        d.wake({"slack"})
        await settle(outbox)
        assert [a.mode for a in sink.got] == ["post", "followup", "edit"]
        told = outbox.told("story1", "slack")
        assert told is not None and (told.shown, told.told) == (3, 2)
        value = metrics.registry.get_sample_value
        labels = {"receiver": "slack", "mode": "followup"}
        assert value("newsmon_story_updates_total", labels) == 1
    quiet = Routed("slack", "0", updates="none")
    async with dispatcher(tmp_path, {"slack": sink}) as (d, outbox, _):
        assert outbox.enqueue_sync(stories["story1"], [quiet], time.time()) == []


async def test_a_sync_before_the_post_is_sent_is_dropped(tmp_path: Path) -> None:
    """The post, when it goes, shows the story as it stands: nothing is owed."""
    sink = Capture(edits=True)
    s = story(FIRST, member("AP", rules=("sanctions",)))
    async with dispatcher(tmp_path, {"slack": sink}) as (d, outbox, _):
        outbox.story = {"story1": s}.get
        outbox.enqueue_sync(s, [Routed("slack", "0")], time.time())
        d.wake({"slack"})
        await settle(outbox)
        assert sink.got == [] and outbox.entries() == []


def test_an_escalated_story_keeps_its_raised_severity_in_later_updates() -> None:
    s = story(FIRST, member("AP"), member("TASS", tier="copy"))
    esc = EscalationRow("story1", "0", 2, "critical", 2, 3600.0, T0 - 60)  # told of it before
    p = plan(s, told(2), Options("significant", 600), edits=True, now=T0 + 60, ident="x",
             escalations=[esc])  # fmt: skip
    assert p.alert is not None and p.alert.mode == "edit" and p.alert.severity == "critical"
