"""The delivery owner's outbox: the memory bus's outbox on this daemon's state file,
serving only the receivers whose partitions this daemon owns, every change written to
``<prefix>.deliveries``.

:class:`ClusterOutbox` is the :class:`~monitor.alerts.outbox.Outbox` the dispatcher's
workers use, with its hooks filled in:

* ``next_batch`` / ``next_due`` / ``pending_count`` see only the receivers it serves (a
  partition assigned and rebuilt); a receiver whose partition left stops at once; and
  nothing is sent before the silences of ``<prefix>.silences`` are loaded;
* ``changed``: each row changed (and what its receiver was told of its story) is
  produced to the receiver's partition through that partition's writer, in order;
* ``attempting``: before a send, the rows are written with their attempt time and the
  send waits until that is committed: a new owner that finds the attempt knows the send
  may have happened (``newsmon_deliveries_resent_total`` when it sends it again), and a
  daemon whose producer was fenced (the partition moved) sends nothing;
* ``blocked`` (a Retry-After) and each digest's time are produced too, so a takeover
  keeps the receiver's pace;
* ``story``: the stories of the outbox records, the latest version of each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future

from monitor.alerts.outbox import Outbox
from monitor.alerts.sinks.base import Receipt
from monitor.bus.kafka_txn import Out, partition_for
from monitor.cluster import delivery_changelog as changelog
from monitor.cluster.delivery_writer import Writer
from monitor.cluster.stories_intents import Intent
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.model import Alert, Story
from monitor.store import OutboxRow, Store

log = logging.getLogger(__name__)

EVICT_EVERY = 60.0  # seconds between two sweeps of the stories out of the window


class ClusterOutbox(Outbox):
    def __init__(self, store: Store, topic: str, partitions: int, metrics: Metrics,
                 window: float) -> None:  # fmt: skip
        super().__init__(store, self._story)
        self.topic, self.partitions, self.metrics, self.window = topic, partitions, metrics, window
        self.serving: set[str] = set()
        self.silences_loaded: Callable[[], bool] = lambda: True  # none sent before they are
        self.writers: dict[int, Writer] = {}
        self.stories: dict[str, Story] = {}
        self.touched: dict[str, tuple[float, set[int]]] = {}  # story -> (when, partitions)
        self._evicted = time.time()
        self.attempted: set[str] = set()  # rebuilt with a send begun by the last owner
        self._capture: list[Out] | None = None  # ingest: records for its own transaction

    def partition(self, receiver: str) -> int:
        return partition_for(receiver.encode(), self.partitions)

    def _story(self, story_id: str) -> Story | None:
        return self.stories.get(story_id)

    # -- gating ------------------------------------------------------------------------

    def next_batch(self, receiver: str, now: float, limit: int | None = None) -> list[OutboxRow]:
        if receiver not in self.serving or not self.silences_loaded():
            return []
        return super().next_batch(receiver, now, limit)

    def next_due(self, receiver: str | None = None) -> float | None:
        if receiver is not None:
            return super().next_due(receiver) if receiver in self.serving else None
        dues = [d for r in self.serving if (d := Outbox.next_due(self, r)) is not None]
        return min(dues, default=None)

    def pending_count(self) -> int:
        return self.store.outbox_pending_for(self.serving)

    # -- ingest: an outbox record, applied as the memory bus applies a decision ----------

    def remember(self, story: Story, partition: int, now: float) -> None:
        """Keep ``story`` (the latest version) for the alerts that render from it."""
        known = self.stories.get(story.story_id)
        if known is None or known.version <= story.version:
            self.stories[story.story_id] = story
        _, parts = self.touched.get(story.story_id, (now, set()))
        self.touched[story.story_id] = (now, parts | {partition})

    def evict(self, now: float) -> list[Out]:
        """Forget the stories unchanged for a window (and an hour): their tombstones."""
        self._evicted = now
        gone = [sid for sid, (at, _) in self.touched.items() if at < now - self.window - 3600]
        out = []
        for sid in gone:
            _, parts = self.touched.pop(sid)
            self.stories.pop(sid, None)
            out += [Out(self.topic, changelog.story_key(sid), None, p) for p in sorted(parts)]
        return out

    def ingest(self, intent: Intent) -> list[Out]:
        """Apply ``intent`` to the local outbox; the changelog records it makes (they go
        in the transaction that commits its offset, queued before any later change)."""
        self._capture = out = []
        now = time.time()
        try:
            if now - self._evicted >= EVICT_EVERY:
                out += self.evict(now)
            story = intent.story
            known = self.stories.get(story.story_id)
            self.remember(story, self.partition(intent.receiver), now)
            if known is None or known.version <= story.version:
                out.append(self._out(intent.receiver, changelog.story_key(story.story_id),
                                     changelog.story_value(story)))  # fmt: skip
            for esc in intent.escalations:
                if self.store.record_escalation(esc):
                    out.append(self._out(intent.receiver, *changelog.escalation(esc)))
            if intent.posts:
                self.enqueue(intent.posts, intent.at)
            if intent.syncs:
                self.enqueue_sync(story, intent.syncs, intent.at)
        finally:
            self._capture = None
        return out

    # -- the hooks -----------------------------------------------------------------------

    def changed(self, alert_ids: Iterable[str]) -> None:
        ids = list(alert_ids)
        if not ids:
            return
        rows = self.store.outbox_rows(ids)
        by_receiver: dict[str, list[Out]] = {}
        for alert_id in ids:
            row = rows.get(alert_id)
            if row is None:  # dropped (a sync with nothing to send): the receiver of the
                continue  # drop is unknown here; its "pending" record goes with the next
            outs = by_receiver.setdefault(row.receiver, [])
            outs.append(self._out(row.receiver, changelog.row_key(alert_id),
                                  changelog.row_value(row)))  # fmt: skip
            told = self.store.delivery(row.story_id, row.receiver)
            if told is not None:
                outs.append(self._out(row.receiver, changelog.told_key(row.story_id,
                                      row.receiver), changelog.told_value(told)))  # fmt: skip
        for receiver, outs in by_receiver.items():
            self._write(receiver, outs)

    def drop(self, row: OutboxRow) -> None:
        super().drop(row)
        self._write(row.receiver, [self._out(row.receiver, changelog.row_key(row.alert_id),
                                             None)])  # fmt: skip

    def sent(
        self, rows: list[OutboxRow], at: float, alerts: Sequence[Alert] = (),
        receipts: Sequence[Receipt | None] | None = None,
    ) -> None:  # fmt: skip
        super().sent(rows, at, alerts, receipts)
        for key in {r.group_key for r in rows if r.group_key.startswith("group:")}:
            receiver = next(r.receiver for r in rows if r.group_key == key)
            self._write(receiver, [self._out(receiver, *changelog.flushed(key, at))])

    def blocked(self, receiver: str, until: float) -> None:
        self._write(receiver, [self._out(receiver, *changelog.blocked(receiver, until))])

    async def attempting(self, rows: Sequence[OutboxRow]) -> bool:
        if not rows or rows[0].receiver not in self.serving:
            return False
        receiver, at = rows[0].receiver, time.time()
        outs = [self._out(receiver, changelog.row_key(r.alert_id), changelog.row_value(r, at))
                for r in rows]  # fmt: skip
        future = self._write(receiver, outs)
        try:
            await asyncio.wrap_future(future)
        except BusError as exc:
            log.warning("delivery_not_ours receiver=%s error=%s (not sent here)", receiver, exc)
            return False
        for r in rows:
            if r.alert_id in self.attempted:
                self.attempted.discard(r.alert_id)
                self.metrics.deliveries_resent.labels(receiver).inc()
                log.warning("alert_resent receiver=%s alert_id=%s story_id=%s (the last owner"
                            " began sending it and its outcome never reached Kafka: the"
                            " receiver may get it twice)", receiver, r.alert_id,
                            r.story_id)  # fmt: skip
        return receiver in self.serving

    # -- writing -------------------------------------------------------------------------

    def _out(self, receiver: str, key: bytes, value: bytes | None) -> Out:
        return Out(self.topic, key, value, self.partition(receiver))

    def _write(self, receiver: str, outs: list[Out]) -> Future[None]:
        if self._capture is not None:
            self._capture += outs
            done: Future[None] = Future()
            done.set_result(None)
            return done
        writer = self.writers.get(self.partition(receiver))
        if writer is None:
            failed: Future[None] = Future()
            failed.set_exception(BusError(f"receiver {receiver}: its partition is not ours"))
            return failed
        return writer.submit(outs)
