"""The alert outbox: what must be delivered, kept in the store until it is.

:meth:`Outbox.enqueue` records one alert per routed receiver (an alert id is
story + receiver, so a story enters each receiver's outbox once, ever) with
the time it is due: at once, or when its group's digest is due, or after a
mute window. :meth:`Outbox.enqueue_sync` records that a story changed for a
receiver that has it (one pending sync per story and receiver: it renders the
latest). The delivery loop (``deliver.py``) takes due batches and marks them;
:meth:`Outbox.current` renders each alert from its story's *current* state
(through the injected ``story`` lookup), so copies seen while an alert waited for
its group are in it, and :meth:`Outbox.sent` records, in the same transaction,
what each receiver has been told of each story.

Hooks for a changelog writer (the Kafka delivery owner, ``monitor.cluster``): every
change of a row's state calls :meth:`Outbox.changed` with its ids (after the store's
commit), :meth:`Outbox.attempting` is awaited before each send, and
:meth:`Outbox.blocked` hears of a receiver held by a Retry-After. Here they do nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from monitor.alerts.route import Routed, due_time, group_key
from monitor.alerts.silence import Silence
from monitor.alerts.sinks.base import Receipt
from monitor.alerts.story import alert_for, alert_id
from monitor.alerts.sync import Options
from monitor.model import Alert, Story, from_json, to_json
from monitor.store import DeliveryRow, OutboxRow, Store

MAX_BATCH = 50  # alerts in one digest
FLUSH_MEMORY = 24 * 3600.0  # seconds a group's last digest time is kept, at least
PRUNE_EVERY = 60.0  # seconds between sweeps of the last digest times


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of ``newsmon alerts``."""

    alert_id: str
    receiver: str
    state: str
    title: str
    attempts: int
    due: float
    last_error: str | None


class Outbox:
    def __init__(self, store: Store, story: Callable[[str], Story | None] | None = None) -> None:
        self.store = store
        self.story = story or (lambda story_id: None)
        self._silences: list[Silence] = []
        self._silences_read = -1.0
        self._last_flush: dict[str, float] = {}  # group key -> time of its last digest
        self._longest_interval = 0.0  # the longest group_interval of any alert enqueued
        self._pruned_at = 0.0

    def enqueue(self, routed: Iterable[tuple[Routed, Alert]], now: float) -> list[str]:
        """Record each alert before any attempt; returns the ids newly added."""
        rows = []
        for r, alert in routed:
            self._longest_interval = max(self._longest_interval, r.group_interval)
            key = group_key(r, alert)
            due = due_time(r, now, self._group_due(key), self._last_flush.get(key))
            payload = to_json(alert.to_dict()).decode()
            rows.append(OutboxRow(alert.alert_id, alert.story_id, alert.receiver, "pending",
                                  payload, key, now, due, updated=now))  # fmt: skip
        added = self.store.outbox_add(rows)
        self.changed(added)
        return added

    def _group_due(self, key: str) -> float | None:
        if key.startswith("alert:"):
            return None
        return self.store.outbox_group_due(key)

    def next_batch(self, receiver: str, now: float, limit: int | None = None) -> list[OutboxRow]:
        """The due alerts of the receiver's earliest due group (at most ``limit``, the
        receiver's message size, and MAX_BATCH)."""
        return self.store.outbox_batch(receiver, now, min(limit or MAX_BATCH, MAX_BATCH))

    def next_due(self, receiver: str | None = None) -> float | None:
        return self.store.outbox_next_due(receiver)

    def enqueue_sync(self, story: Story, routed: Iterable[Routed], now: float) -> list[str]:
        """Record that ``story`` changed for each routed receiver (those whose route
        wants updates); returns the receivers with a sync newly pending."""
        rows = []
        for r in routed:
            if r.updates == "none":
                continue
            options = json.dumps({"updates": r.updates, "interval": r.update_interval})
            ident = alert_id(story.story_id, r.receiver, f"sync:{story.version}")
            rows.append(OutboxRow(ident, story.story_id, r.receiver, "pending", options,
                                  f"sync:{story.story_id}:{r.receiver}", now, now,
                                  updated=now, kind="sync"))  # fmt: skip
        added = set(self.store.outbox_add(rows))
        self.changed(r.alert_id for r in rows if r.alert_id in added)
        return [r.receiver for r in rows if r.alert_id in added]

    def current(self, row: OutboxRow) -> Alert:
        """An alert row's alert, rendered from its story as it stands now."""
        alert = Alert.from_dict(from_json(row.payload))
        story = self.story(alert.story_id)
        if story is None:
            return alert
        severity = alert.severity if alert.event == "escalated" else None
        return alert_for(story, alert.receiver, ident=alert.alert_id, event=alert.event,
                         severity=severity, created=alert.created)  # fmt: skip

    def sync_options(self, row: OutboxRow) -> Options:
        data = from_json(row.payload)
        return Options(str(data["updates"]), float(data["interval"]))

    def sent(
        self, rows: list[OutboxRow], at: float, alerts: Sequence[Alert] = (),
        receipts: Sequence[Receipt | None] | None = None,
    ) -> None:  # fmt: skip
        """Mark ``rows`` sent, with what each receiver now has of each story: the alert
        posted (``alerts``, aligned with ``rows``) and the receiver's receipt for it."""
        told = []
        for n, alert in enumerate(alerts):
            receipt = receipts[n] if receipts and n < len(receipts) else None
            before = self.store.delivery(alert.story_id, alert.receiver)
            thread = (
                tuple(sorted(receipt.items())) if receipt else (before.thread if before else ())
            )
            told.append(DeliveryRow(alert.story_id, alert.receiver, thread, alert.version, at,
                                    alert.version, at))  # fmt: skip
        self.store.outbox_sent([r.alert_id for r in rows], at, told)
        self.changed(r.alert_id for r in rows)
        for r in rows:
            if r.group_key.startswith("group:"):
                self._last_flush[r.group_key] = at
        if at - self._pruned_at >= PRUNE_EVERY:
            self._prune(at)

    def sync_sent(self, row: OutboxRow, alert: Alert, told: DeliveryRow, at: float) -> None:
        """A sync row's alert was taken: keep the alert as its payload, and what was told."""
        payload = to_json(alert.to_dict()).decode()
        self.store.outbox_sent([row.alert_id], at, [told], {row.alert_id: payload})
        self.changed([row.alert_id])

    def defer(self, row: OutboxRow, due: float, at: float, told: DeliveryRow | None = None) -> None:
        self.store.outbox_defer(row.alert_id, due, at, [told] if told else [])
        self.changed([row.alert_id])

    def drop(self, row: OutboxRow) -> None:
        """A sync row with nothing to send."""
        self.store.outbox_drop(row.alert_id)
        self.changed([row.alert_id])

    def silences(self, now: float) -> list[Silence]:
        """The silences active now (read at most once a second: a new one made by the
        CLI or the API reaches the next send)."""
        if now - self._silences_read >= 1.0:
            rows = self.store.silences(ending_after=now)
            self._silences = [Silence(*row) for row in rows]
            self._silences_read = now
        return [s for s in self._silences if s.active(now)]

    def mute(self, rows: list[OutboxRow], alerts: Sequence[Alert], silence: Silence,
             at: float, told: DeliveryRow | None = None) -> None:  # fmt: skip
        """Record ``rows`` as muted by ``silence`` (their ``alerts`` kept as payloads)."""
        payloads = {r.alert_id: to_json(a.to_dict()).decode()
                    for r, a in zip(rows, alerts, strict=True)}  # fmt: skip
        reason = f"silenced by {silence.silence_id}"
        self.store.outbox_mute([r.alert_id for r in rows], reason, at, [told] if told else [],
                               payloads)  # fmt: skip
        self.changed(r.alert_id for r in rows)

    def told(self, story_id: str, receiver: str) -> DeliveryRow | None:
        return self.store.delivery(story_id, receiver)

    def _prune(self, now: float) -> None:
        """Forget digest times that can no longer delay a group's next alert (with
        ``group_by: [story]`` there is one per story, for as long as the daemon runs)."""
        cutoff = now - max(FLUSH_MEMORY, self._longest_interval)
        self._last_flush = {k: t for k, t in self._last_flush.items() if t >= cutoff}
        self._pruned_at = now

    def failed(self, row: OutboxRow, *, dead: bool, due: float, reason: str, at: float) -> None:
        state = "dead" if dead else "pending"
        self.store.outbox_update([row.alert_id], state=state, due=due, error=reason, at=at)
        self.changed([row.alert_id])

    def pending_count(self) -> int:
        return self.store.outbox_pending()

    def entries(self, state: str | None = None) -> list[Entry]:
        """The outbox for ``newsmon alerts``: pending (due first), sent, dead."""
        out = []
        for r in self.store.outbox(state):
            title = str(from_json(r.payload).get("title", ""))
            out.append(Entry(r.alert_id, r.receiver, r.state, title, r.attempts, r.due,
                             r.last_error))  # fmt: skip
        return out

    def retry(self, alert_id: str, now: float) -> bool:
        """Put a dead-lettered (or sent) alert back in the queue, due now, with a fresh
        retry horizon; False if there is no such alert. A running daemon sends it
        within a minute (its delivery loop looks at the outbox at least that often)."""
        found = self.store.outbox_requeue(alert_id, now)
        if found:
            self.changed([alert_id])
        return found

    # -- hooks (see the module docstring) ---------------------------------------------

    def changed(self, alert_ids: Iterable[str]) -> None:
        """Rows ``alert_ids`` changed in the store (added, sent, failed, dropped ...)."""

    async def attempting(self, rows: Sequence[OutboxRow]) -> bool:
        """About to send ``rows``: whether to go on (False: not this daemon's to send)."""
        return True

    def blocked(self, receiver: str, until: float) -> None:
        """``receiver`` is held until ``until`` (a Retry-After)."""
