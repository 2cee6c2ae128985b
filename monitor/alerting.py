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

:func:`run_stage` is the stage's loop on the memory bus: the matches waiting are taken
in batches (at most :data:`BATCH`; one when they come one at a time, so a lone match
waits for nothing) and each batch is handled in one store transaction
(:meth:`StoriesStage.handle_batch`); its messages are acked only once it committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed, Router
from monitor.alerts.story import alert_for, alert_id, spreading
from monitor.bus import MATCHES, Bus, Message
from monitor.bus.stage import MAX_STALL_BACKOFF, STALL_BACKOFF
from monitor.dedup.stories import StoryBook
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.model import Match, Story, StoryMember
from monitor.store import EscalationRow

log = logging.getLogger(__name__)

EVICT_EVERY = 60.0  # seconds between two sweeps of the stories out of the window
BATCH = 200  # matches handled in one store transaction, at most


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

    def handle_batch(self, matches: Sequence[Match], now: float) -> list[Exception | None]:
        """:meth:`handle` each match, all in one store transaction; per match, the
        error that kept it out (a bug: the caller dead-letters it, the others stand) or
        None. A StoreError rolls the whole batch back, reloads the book from the store
        (its memory had gone ahead) and propagates: the batch is to be handled again."""
        errors: list[Exception | None] = []
        try:
            with self.book.store.batch(), self.outbox.store.batch():
                for match in matches:
                    try:
                        self.handle(match, now)
                    except StoreError:
                        raise
                    except Exception as exc:  # one bad match never stops the others
                        errors.append(exc)
                        continue
                    errors.append(None)
        except StoreError:
            self.book.reload(now)
            raise
        return errors

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


async def run_stage(bus: Bus, stage: StoriesStage, group: str, limit: int = BATCH) -> None:
    """Consume the matches as ``group`` in batches until cancelled (see the module
    docstring). As :func:`monitor.bus.pump` does for one message: a match whose
    handling fails is dead-lettered; while the store fails, the batch is handled again
    with backoff, never acked unhandled."""
    waiting: asyncio.Queue[Message] = asyncio.Queue(limit)

    async def take() -> None:
        async for message in bus.consume(MATCHES, group):
            await waiting.put(message)

    taker = asyncio.create_task(take(), name=f"{group}-take")
    first: asyncio.Future[Message] | None = None
    try:
        while True:
            first = asyncio.ensure_future(waiting.get())
            await asyncio.wait((first, taker), return_when=asyncio.FIRST_COMPLETED)
            if not first.done():  # the bus ended (or failed) with nothing waiting
                return await taker
            batch = [first.result()]
            while len(batch) < limit and not waiting.empty():
                batch.append(waiting.get_nowait())
            await _handle(stage, batch, group)
    finally:
        for task in (first, taker):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (first, taker) if t is not None),
                             return_exceptions=True)  # fmt: skip


async def _handle(stage: StoriesStage, batch: list[Message], group: str) -> None:
    matches = [m.value for m in batch if isinstance(m.value, Match)]
    delay, last = STALL_BACKOFF, ""
    while True:
        try:
            errors = iter(stage.handle_batch(matches, time.time()))
            break
        except StoreError as exc:
            if str(exc) != last:
                log.warning("stage_stalled topic=%s group=%s error=%s", MATCHES, group, exc)
                last = str(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_STALL_BACKOFF)
    if last:
        log.info("stage_resumed topic=%s group=%s", MATCHES, group)
    for message in batch:
        error: Exception | None = (
            next(errors) if isinstance(message.value, Match)
            else TypeError(f"a {type(message.value).__name__} in the matches topic")
        )  # fmt: skip
        if error is None:
            await message.ack()
            continue
        detail = f"{type(error).__name__}: {error}"
        log.error("stage_error topic=%s group=%s key=%s error=%s", MATCHES, group,
                  message.key[:200], detail, exc_info=error)  # fmt: skip
        await message.dead_letter("handler_error", detail)
