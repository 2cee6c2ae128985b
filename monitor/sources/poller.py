"""The sources stage: poll each feed on its schedule, publish its new items.

One scheduler loop, not one task per feed: every feed's next poll is in one heap
(:class:`~monitor.sources.queue.PollQueue`); a feed that falls due waits in its
host's queue for a fetch slot of that host (``fetch.per_host``) and one in all
(``fetch.concurrency``), hosts taking turns, so a host with thousands of slow
feeds never delays another host's polls. Each poll (:mod:`monitor.sources.poll`)
plans the next from what it saw. The first polls after a start (and overdue
ones) are spread over each feed's own interval (``schedule.first_delay``).

The loop wakes GATHER after the next due time and starts every poll due by then
at once: one wake-up per poll (each a sleep of the process, its caches cold
again on a busy host) cost more CPU than the poll itself; a poll starts at most
GATHER late, never early.

Nothing a poll raises ends the loop: a failing store is retried after
STORE_RETRY, and a bug (any other exception, or a CancelledError that was not
aimed at the task) is logged with its traceback once per distinct error, counted
as the feed's error ``error`` and retried after min_interval.

The store is written in batches (:meth:`~monitor.store.Store.flush`): feed states,
error history, seen marks and retained items of all the polls of the last
FLUSH_EVERY seconds in one transaction, and once more on the way out. A crash (not
a stop) loses what was staged since the last flush: those polls' states (the
feeds are polled again on restart) and seen marks (their items are published
again: an item is never lost, and on Kafka at least once, as always). Once the
stop event is set, no poll starts; the polls in flight finish.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence

from monitor.bus import Bus
from monitor.config import FeedConfig, ScheduleConfig
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.sources.fetch import Fetcher, slot_key
from monitor.sources.poll import Polls, _cancelling
from monitor.sources.pool import ParsePool
from monitor.sources.queue import PollQueue
from monitor.sources.schedule import first_delay
from monitor.store import Store

log = logging.getLogger(__name__)

STORE_RETRY = 30.0  # seconds before a feed is polled again while the store fails
FLUSH_EVERY = 0.25  # seconds between two writes of the staged feed states and seen marks
PRUNE_EVERY = 60.0  # seconds between two prunes of the retained items
GATHER = 0.05  # seconds a wake-up waits past a due time, to start the polls due by then at once


class Poller(Polls):
    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        fetcher: Fetcher,
        parser: ParsePool,
        store: Store,
        bus: Bus,
        metrics: Metrics,
        schedule: ScheduleConfig,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        item_retention: float = 7 * 86400.0,
        max_items: int = 1_000_000,
    ) -> None:
        super().__init__(feeds, fetcher=fetcher, parser=parser, store=store, bus=bus,
                         metrics=metrics, schedule=schedule, clock=clock, rng=rng)  # fmt: skip
        self._retention = (item_retention, max_items)
        self._hosts = [slot_key(feed.fetch_url) for feed in self.feeds]
        self._store_error: str | None = None
        self._pruned = 0.0

    async def run_once(self, stop: asyncio.Event | None = None) -> None:
        """Poll every feed once, concurrently (the fetch limits bound concurrency).
        Once ``stop`` is set, polls not yet started are skipped; those in flight finish."""
        await self._drive(stop or asyncio.Event(), repeat=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every feed on its schedule until ``stop`` is set; a poll in
        flight when it is set is finished, not abandoned."""
        await self._drive(stop, repeat=True)

    async def _drive(self, stop: asyncio.Event, *, repeat: bool) -> None:
        if not await self._load(stop):
            return
        limits = self._fetcher.limits
        queue = PollQueue(per_host=limits[0], total=limits[1])
        now = self._clock()
        for index, feed in enumerate(self.feeds):
            queue.schedule(index, self._hosts[index], self._first_due(feed, now) if repeat else now)
        wake = asyncio.Event()
        helpers = [asyncio.create_task(_set_when(stop, wake), name="poller-stop"),
                   asyncio.create_task(self._flush_loop(stop), name="poller-flush")]  # fmt: skip
        polls: set[asyncio.Task[None]] = set()
        try:
            await self._loop(queue, wake, stop, polls, repeat)
            await asyncio.gather(*polls)  # started polls finish
        finally:
            for task in (*helpers, *polls):
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._flush(final=True)

    async def _loop(self, queue: PollQueue, wake: asyncio.Event, stop: asyncio.Event,
                    polls: set[asyncio.Task[None]], repeat: bool) -> None:  # fmt: skip
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        armed: float | None = None  # the due time the timer wakes the loop for
        try:
            while not stop.is_set():
                now = self._clock()
                for index in queue.take(now):
                    task = loop.create_task(self._one(index, queue, wake, stop, repeat))
                    polls.add(task)
                    task.add_done_callback(polls.discard)
                if queue.idle():
                    return
                due = queue.next_due()
                if due != armed or timer is None or armed is None or armed <= now:
                    if timer is not None:
                        timer.cancel()
                    wait = None if due is None else max(due - now, 0) + GATHER
                    timer = None if wait is None else loop.call_later(wait, wake.set)
                    armed = due
                await wake.wait()
                wake.clear()
        finally:
            if timer is not None:
                timer.cancel()

    async def _one(self, index: int, queue: PollQueue, wake: asyncio.Event,
                   stop: asyncio.Event, repeat: bool) -> None:  # fmt: skip
        feed = self.feeds[index]
        self._metrics.poll_delay.observe(max(0.0, self._clock() - queue.due_at(index)))
        try:
            delay = await self._guarded_poll(feed, stop)
        finally:
            queue.done(index)
            wake.set()
        if repeat and not stop.is_set():
            queue.schedule(index, self._hosts[index], self._clock() + delay)

    async def _load(self, stop: asyncio.Event) -> bool:
        """Every feed's state, read at once (retried while the store fails); False
        if ``stop`` was set meanwhile."""
        while not stop.is_set():
            try:
                self._states = {s.url: s for s in self._store.feed_states()}
                return True
            except StoreError as exc:
                self._store_failed(exc)
                await _sleep_unless(stop, min(self._schedule.min_interval, STORE_RETRY))
        return False

    def _first_due(self, feed: FeedConfig, now: float) -> float:
        """The feed's planned poll; a first or overdue poll is spread (first_delay)."""
        state = self._states.get(feed.url)
        if state is not None and state.next_poll is not None and state.next_poll > now:
            return state.next_poll
        own = feed.interval or (state.interval if state is not None else None)
        return now + first_delay(self._schedule, len(self.feeds), self._rng, interval=own)

    async def _guarded_poll(self, feed: FeedConfig, stop: asyncio.Event | None) -> float:
        """:meth:`poll`, and the delay until the next; nothing it raises escapes but
        this task's own cancellation."""
        try:
            return await self.poll(feed, stop)
        except StoreError as exc:  # the feed's state cannot be read: try again soon
            self._store_failed(exc)
            return min(self._schedule.min_interval, STORE_RETRY)
        except asyncio.CancelledError as exc:
            if _cancelling():
                raise
            self._bug(feed, exc)
        except Exception as exc:  # a bug must not stop this feed, the others or the daemon
            self._bug(feed, exc)
        return self._schedule.min_interval

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not await _sleep_unless(stop, FLUSH_EVERY):
            self._flush()

    def _flush(self, *, final: bool = False) -> None:
        """Write what the polls staged; a failure is logged once and retried."""
        try:
            if self._store.staged:
                self._store.flush()
            now = self._clock()
            if not final and now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                retention, keep = self._retention
                self._store.forget_items(now - retention, keep)
        except StoreError as exc:
            self._store_failed(exc)
            if final:
                log.warning("state_not_saved rows=%d (their feeds are polled again on the next"
                            " start; their items published again)", self._store.staged)  # fmt: skip
            return
        self._store_failed(None)

    def _store_failed(self, exc: StoreError | None) -> None:
        """Log a store failure once (and once again when it changes or ends)."""
        text = None if exc is None else str(exc)
        if text == self._store_error:
            return
        if text is None:
            log.info("store_recovered")
        else:
            log.warning("store_failed error=%s (kept in memory and written again; polls"
                        " go on)", text)  # fmt: skip
        self._store_error = text


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


async def _sleep_unless(stop: asyncio.Event, delay: float) -> bool:
    """Sleep ``delay`` seconds; True at once if ``stop`` is (or becomes) set."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.0))
    except TimeoutError:
        return False
    return True
