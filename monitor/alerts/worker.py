"""One receiver's worker in the delivery loop: it sends what is due, oldest first (a
group's alerts as one digest), and applies the retry policy that
:mod:`monitor.alerts.deliver` describes to each :class:`DeliveryError`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from monitor.alerts.outbox import Outbox
from monitor.alerts.pace import RateLimit, backoff
from monitor.alerts.silence import muting
from monitor.alerts.sinks import Sink
from monitor.alerts.sinks.base import Batch, Receipt
from monitor.alerts.sync import plan
from monitor.config import DeliveryConfig
from monitor.errors import DeliveryError, StoreError
from monitor.metrics import Metrics
from monitor.model import Alert
from monitor.store import DeliveryRow, OutboxRow

log = logging.getLogger("monitor.alerts.deliver")  # the delivery loop's log, as before

STORE_RETRY = 5.0  # seconds a receiver's worker waits while the outbox fails
ERROR_RETRY = 5.0  # seconds it waits after an unexpected error outside a send


class Worker:
    """Sends one receiver's due alerts, one group at a time, until stopped."""

    def __init__(self, name: str, sink: Sink, outbox: Outbox, config: DeliveryConfig,
                 metrics: Metrics, limit: RateLimit | None) -> None:  # fmt: skip
        self.name, self.sink, self.outbox, self.config = name, sink, outbox, config
        self.metrics, self.limit = metrics, limit
        self.wake = asyncio.Event()
        self.blocked_until = 0.0  # a 429's Retry-After holds the whole receiver
        self.busy = False  # a send is in flight (its outcome not yet recorded)
        self._last_reason = ""
        self._last_error = ""  # the last unexpected error logged with its traceback
        self._parts: dict[str, tuple[int, int]] = {}  # group key -> (alerts sent, digest size)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._step(stop)
            except StoreError as exc:  # the outbox is unreadable or unwritable: wait for it
                if self._last_reason != "store":
                    log.warning("delivery_stalled receiver=%s error=%s", self.name, exc)
                    self._last_reason = "store"
                await self._sleep(stop, STORE_RETRY)
            except Exception as exc:  # a bug: log it, wait, go on; never stop delivering
                self._unexpected(exc)
                await self._sleep(stop, ERROR_RETRY)

    async def _step(self, stop: asyncio.Event) -> None:
        """Send the receiver's next due batch, or wait until one may be due."""
        now = time.time()
        if now < self.blocked_until:
            batch = []
        else:
            batch = self.outbox.next_batch(self.name, now, self.sink.max_batch)
        if not batch:
            await self._sleep(stop, self._idle_for(now))
        elif self.limit and (wait := self.limit.wait_time()) > 0:
            await self._sleep(stop, wait)
        else:
            if self.limit:
                self.limit.take()
            await self.attempt(batch)
            if (task := asyncio.current_task()) is not None and task.cancelling():
                raise asyncio.CancelledError  # a shutdown the sink held off to report truly
        if self._last_reason == "store":
            log.info("delivery_resumed receiver=%s", self.name)
            self._last_reason = ""

    def _idle_for(self, now: float) -> float:
        due = self.outbox.next_due(self.name)
        due = max(due or now + 60, self.blocked_until)
        return min(max(due - now, 0.01), 60.0)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self.wake.clear()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def attempt(self, batch: list[OutboxRow]) -> None:
        if batch[0].kind == "sync":
            await self._sync(batch[0])
            return
        started = time.time()
        try:
            alerts = [self.outbox.current(row) for row in batch]
        except StoreError:
            raise
        except Exception as exc:  # a broken payload, a bug rendering it: retry, never die
            self._bug(batch, exc)
            return
        batch, alerts = self._unmuted(batch, alerts, started)
        if not batch:
            return
        part = self._part(batch, alerts, started)
        sent, receipts = await self._send(batch, part)
        if sent:
            self.sent(batch, alerts, started, receipts)
            self._parted(batch[0].group_key, len(batch))

    def _part(self, batch: list[OutboxRow], alerts: list[Alert], now: float) -> Batch:
        """The alerts as one message of their group's digest: a group larger than the
        sink's message is sent in parts, each saying where it sits ("13-20 of 20")."""
        key = batch[0].group_key
        if not key.startswith("group:"):
            return Batch(alerts)
        if key not in self._parts:
            self._parts[key] = (0, self.outbox.store.outbox_group_count(key, now))
        done, size = self._parts[key]
        return Batch(alerts, first=done, group=size)

    def _parted(self, key: str, count: int) -> None:
        if key in self._parts:
            done, size = self._parts[key]
            done += count
            if done >= size:
                del self._parts[key]
            else:
                self._parts[key] = (done, size)

    def _unmuted(
        self,
        batch: list[OutboxRow],
        alerts: list[Alert],
        now: float,
        told: DeliveryRow | None = None,
    ) -> tuple[list[OutboxRow], list[Alert]]:
        """The rows no silence mutes; the others are recorded as muted, not sent."""
        silences = self.outbox.silences(now)
        if not silences:
            return batch, alerts
        keep: list[tuple[OutboxRow, Alert]] = []
        for row, alert in zip(batch, alerts, strict=True):
            if (silence := muting(silences, alert, now)) is None:
                keep.append((row, alert))
                continue
            self.outbox.mute([row], [alert], silence, now, told)
            self.metrics.alert_deliveries.labels(self.name, "muted").inc()
            log.info("alert_muted receiver=%s alert_id=%s story_id=%s silence=%s mode=%s",
                     self.name, alert.alert_id, alert.story_id, silence.silence_id,
                     alert.mode)  # fmt: skip
        return [r for r, _ in keep], [a for _, a in keep]

    async def _send(
        self, batch: list[OutboxRow], alerts: list[Alert]
    ) -> tuple[bool, Sequence[Receipt | None] | None]:
        """One attempt through the sink; a failure goes through :meth:`failed`."""
        self.busy = True  # from the attempt's mark on: a handover waits for the outcome
        try:
            if not await self.outbox.attempting(batch):
                return False, None  # the receiver went to another daemon meanwhile (Kafka)
            async with asyncio.timeout(self.config.timeout):
                return True, await self.sink.send(alerts)
        except TimeoutError:
            detail = f"no answer within {self.config.timeout:g}s"
            self.failed(batch, DeliveryError("timeout", detail, retryable=True))
        except DeliveryError as exc:
            self.failed(batch, exc)
        except StoreError:
            raise
        except Exception as exc:  # a bug in the sink or a broken payload: retry, never die
            self._bug(batch, exc)
        finally:
            self.busy = False  # the caller records the outcome before anything else runs
        return False, None

    def _bug(self, batch: list[OutboxRow], exc: Exception) -> None:
        """An unexpected error: logged with its traceback once, then a retryable failure."""
        error = DeliveryError("other", type(exc).__name__, retryable=True)
        self._unexpected(exc)
        self._last_reason = str(error)  # logged just now: failed() need not warn again
        self.failed(batch, error)

    async def _sync(self, row: OutboxRow) -> None:
        """Bring the receiver up to date with the row's story (``sync.plan``)."""
        story, told = self.outbox.story(row.story_id), self.outbox.told(row.story_id, self.name)
        if story is None or told is None:  # gone from the window, or its post not sent yet:
            self.outbox.drop(row)  # the post, when it goes, shows the story as it stands
            return
        now = time.time()
        escalations = self.outbox.store.escalations(row.story_id)
        try:
            todo = plan(story, told, self.outbox.sync_options(row), edits=self.sink.edits,
                        now=now, ident=row.alert_id, escalations=escalations)  # fmt: skip
        except Exception as exc:  # a broken row or a bug rendering it: retried, never fatal
            self._bug([row], exc)
            return
        if todo.alert is None:
            if todo.defer is None:
                self.outbox.drop(row)
            else:
                self.outbox.defer(row, todo.defer, now)
            return
        if not self._unmuted([row], [todo.alert], now, todo.told)[0]:
            return  # muted: recorded, and the receiver counts as told
        sent, _ = await self._send([row], [todo.alert])
        if not sent:
            return
        if todo.defer is not None:
            self.outbox.defer(row, todo.defer, time.time(), todo.told)
        else:
            self.outbox.sync_sent(row, todo.alert, todo.told, time.time())
        self.metrics.story_updates.labels(self.name, todo.alert.mode).inc()
        log.info("story_update_sent receiver=%s story_id=%s mode=%s version=%d changes=%d",
                 self.name, story.story_id, todo.alert.mode, story.version,
                 len(todo.alert.changes))  # fmt: skip
        self._recovered()

    def _unexpected(self, exc: Exception) -> None:
        """Log an unexpected error with its traceback, once until it changes."""
        key = f"{type(exc).__name__}: {exc}"
        if key != self._last_error:
            log.exception("delivery_error receiver=%s error=%s", self.name, key)
            self._last_error = key

    def sent(
        self, batch: list[OutboxRow], alerts: list[Alert], started: float,
        receipts: Sequence[Receipt | None] | None = None,
    ) -> None:  # fmt: skip
        now = time.time()
        self.outbox.sent(batch, now, alerts, receipts)
        for row, alert in zip(batch, alerts, strict=True):
            self.metrics.alerts_sent.labels(self.name).inc()
            self.metrics.alert_deliveries.labels(self.name, "sent").inc()
            self.metrics.delivery_latency.labels(self.name).observe(max(0.0, now - row.created))
            if alert.item_seen is not None:
                seen = alert.item_seen.timestamp()
                self.metrics.end_to_end_latency.labels(self.name).observe(max(0.0, now - seen))
            log.info("alert_sent receiver=%s alert_id=%s story_id=%s rules=%s attempts=%d",
                     self.name, alert.alert_id, alert.story_id, ",".join(alert.rules),
                     row.attempts + 1)  # fmt: skip
        self._recovered()

    def _recovered(self) -> None:
        if self._last_reason:
            log.info("delivery_recovered receiver=%s", self.name)
            self._last_reason = ""
        self._last_error = ""

    def failed(self, batch: list[OutboxRow], exc: DeliveryError) -> None:
        now = time.time()
        self.metrics.deliveries_failed.labels(self.name, exc.reason).inc(len(batch))
        if str(exc) != self._last_reason:
            log.warning("delivery_failed receiver=%s reason=%s detail=%r retryable=%s alerts=%d",
                        self.name, exc.reason, exc.detail, exc.retryable, len(batch))  # fmt: skip
            self._last_reason = str(exc)
            self._last_error = ""  # another error came between: log the next bug afresh
        attempt = max(r.attempts for r in batch) + 1
        if exc.retry_after is not None:  # never less than backoff: Retry-After: 0 is no pause
            delay = max(exc.retry_after, self.config.backoff)
            self.blocked_until = now + delay
            self.outbox.blocked(self.name, self.blocked_until)
        else:
            delay = backoff(attempt, self.config)
        outcome = "rate_limited" if exc.reason == "http_429" else "retried"
        for row in batch:
            dead = not exc.retryable or now + delay > row.created + self.config.horizon
            self.outbox.failed(row, dead=dead, due=now + delay, reason=str(exc), at=now)
            self.metrics.alert_deliveries.labels(
                self.name, "dead_lettered" if dead else outcome
            ).inc()
            if dead:
                log.error("alert_dead_lettered receiver=%s alert_id=%s reason=%s detail=%r",
                          self.name, row.alert_id, exc.reason, exc.detail)  # fmt: skip
