"""The stories stage: match -> story (dedup) -> routes -> outbox (alerts).

It sits above the stage packages (only here and in ``app.py`` do dedup and alerts
meet): each match is observed by the :class:`~monitor.dedup.stories.StoryBook`; a
new story is routed and its first alert enters each receiver's outbox; a story that
changed enters a *sync* for each receiver that has it (``alerts/sync.py`` decides,
when it is due, between an edit in place, a follow-up and nothing), and a first
alert for a receiver a new rule now reaches. A route's ``escalate`` is checked on
every change: when the story has spread to N outlets within T, it is routed again
at the escalation's severity (once per story per route), as a first alert to
receivers that lack the story and a follow-up to those that have it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed, Router
from monitor.alerts.story import alert_for, alert_id, spreading
from monitor.dedup.stories import StoryBook
from monitor.metrics import Metrics
from monitor.model import Match, Story, StoryMember
from monitor.store import EscalationRow

log = logging.getLogger(__name__)

EVICT_EVERY = 60.0  # seconds between two sweeps of the stories out of the window


def record(story: Any) -> Story:
    """The dedup stage's story as the alerts stage (and the bus) see it."""
    members = tuple(
        StoryMember(
            source=m.item.source,
            title=m.item.title,
            link=m.item.link,
            published=m.item.published,
            tier=m.tier,
            at=_utc(m.at),
            rules=tuple(m.rules),
            entities=tuple(sorted(m.entities)),
            numbers=tuple(sorted(m.numbers)),
            item_id=m.item.id,
        )
        for m in story.members
    )
    return Story(story.story_id, story.version, story.item, story.hits, members,
                 _utc(story.created), _utc(story.last_seen))  # fmt: skip


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StoriesStage:
    def __init__(self, book: StoryBook, router: Router, outbox: Outbox, metrics: Metrics,
                 wake: Callable[[set[str]], None]) -> None:  # fmt: skip
        self.book, self.router, self.outbox, self.metrics = book, router, outbox, metrics
        self.wake = wake
        self._evicted = 0.0

    def story(self, story_id: str) -> Story | None:
        found = self.book.get(story_id)
        return None if found is None else record(found)

    def handle(self, match: Match, now: float) -> Story:
        """Observe ``match``, route its story and enqueue what it earns; the story."""
        seen = self.book.observe(match, now)
        (self.metrics.stories_created if seen.new else self.metrics.story_duplicates).inc()
        story = record(seen.story)
        routed = self.router.route(story.hits)
        woken = self._post(story, [r for r in routed if seen.new or not self._has(story, r)], now)
        if not seen.new:
            woken += self.outbox.enqueue_sync(story, routed, now)
        woken += self._escalate(story, routed, now)
        if woken:
            self.wake(set(woken))
        if now - self._evicted > EVICT_EVERY:
            self.book.evict(now)
            self._evicted = now
        return story

    def _has(self, story: Story, routed: Routed) -> bool:
        """Whether the receiver has (or will have) the story's first alert."""
        ident = alert_id(story.story_id, routed.receiver)
        return bool(self.outbox.store.outbox_state(story.story_id, routed.receiver)) or (
            self.outbox.store.was_sent(ident)
        )

    def _post(
        self, story: Story, routed: list[Routed], now: float, escalated: str | None = None
    ) -> list[str]:
        """First alerts (an escalation's, at its severity ``escalated``) to ``routed``."""
        if escalated is None:
            alerts = [alert_for(story, r.receiver) for r in routed]
        else:
            alerts = [alert_for(story, r.receiver, event="escalated", severity=escalated,
                                ident=alert_id(story.story_id, r.receiver, "escalated"))
                      for r in routed]  # fmt: skip
        added = set(self.outbox.enqueue(zip(routed, alerts, strict=True), now))
        return [a.receiver for a in alerts if a.alert_id in added]

    def _escalate(self, story: Story, routed: list[Routed], now: float) -> list[str]:
        woken: list[str] = []
        for r in routed:
            esc = r.escalate
            if esc is None or not spreading(story, esc):
                continue
            row = EscalationRow(story.story_id, r.route, story.version, esc.severity,
                                esc.outlets, esc.within, now)  # fmt: skip
            if not self.outbox.store.record_escalation(row):
                continue  # this route escalated the story before
            self.metrics.story_escalations.inc()
            log.info("story_escalated story_id=%s route=%s outlets=%d severity=%s",
                     story.story_id, r.route, len(story.outlets), esc.severity)  # fmt: skip
            again = {t.receiver: t for t in self.router.route(story.hits, esc.severity)}
            if esc.receiver and esc.receiver not in again:
                again[esc.receiver] = Routed(esc.receiver, f"{r.route}.escalate")
            have = [t for t in again.values() if self._has(story, t)]
            lack = [t for t in again.values() if not self._has(story, t)]
            woken += self._post(story, lack, now, escalated=esc.severity)
            forced = [Routed(t.receiver, t.route, updates="significant") for t in have]
            woken += self.outbox.enqueue_sync(story, forced, now)
        return woken
