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

The store is written in batches (:meth:`~monitor.store.Store.flush`, by
:class:`~monitor.sources.staged.StagedWrites`): feed states,
error history, seen marks and retained items of all the polls of the last
FLUSH_EVERY seconds in one transaction, and once more on the way out. A crash (not
a stop) loses what was staged since the last flush: those polls' states (the
feeds are polled again on restart) and seen marks (their items are published
again: an item is never lost, and on Kafka at least once, as always). Once the
stop event is set, no poll starts; the polls in flight finish (within ``grace``
seconds when one is given: then they are cancelled, their items not marked seen,
so published again on the next start).

Shared feeds (``shared=True``: several daemons polling one config through a Kafka
group, :mod:`monitor.cluster.feeds`): the poller polls only the feeds it was given
with :meth:`Poller.own`, each with the state its last owner left (validators,
schedule, the ids of its last body, so a takeover polls conditionally and
republishes nothing already seen), and gives them up with :meth:`Poller.release`
(no new poll; those in flight finish, or are cancelled after a grace) which returns
their last state. After each poll ``on_state`` is told the feed's new state; no poll
starts while ``may_poll()`` is false (the group has not heard from this daemon lately):
the feeds due wait, re-checked every LEASE_RECHECK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Unpack

from monitor.config import FeedConfig
from monitor.errors import StoreError
from monitor.sources.fetch import slot_key
from monitor.sources.poll import PollDeps, _cancelling
from monitor.sources.queue import PollQueue
from monitor.sources.schedule import first_delay
from monitor.sources.staged import StagedWrites
from monitor.sources.waits import _finish, _set_when, _sleep_unless
from monitor.store import FeedState

STORE_RETRY = 30.0  # seconds before a feed is polled again while the store fails
GATHER = 0.25  # seconds a wake-up waits past a due time, to start the polls due by then at once
LEASE_RECHECK = 0.5  # seconds between two looks at may_poll() while it is false

Restored = Mapping[str, tuple[FeedState, bytes]]  # feed url -> (its state, its known ids)
StateHook = Callable[[FeedState, bytes], None]  # told a feed's state after each poll


class Poller(StagedWrites):
    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        item_retention: float = 7 * 86400.0,
        max_items: int = 1_000_000,
        shared: bool = False,
        on_state: StateHook | None = None,
        may_poll: Callable[[], bool] | None = None,
        **deps: Unpack[PollDeps],
    ) -> None:
        super().__init__(feeds, **deps)
        self._retention = (item_retention, max_items)
        self._hosts = [slot_key(feed.fetch_url) for feed in self.feeds]
        self._store_error: str | None = None
        self._pruned = 0.0
        self._shared, self._on_state, self._may_poll = shared, on_state, may_poll
        self._index = {feed.url: i for i, feed in enumerate(self.feeds)}
        self._owned: set[int] = set() if shared else set(range(len(self.feeds)))
        self._polling: dict[int, asyncio.Task[None]] = {}  # feed -> its poll in flight
        self._driving: tuple[PollQueue, asyncio.Event] | None = None  # while run() runs
        self._loaded = False
        self._metrics.cluster_feeds_owned.set(len(self._owned))

    async def run_once(self, stop: asyncio.Event | None = None) -> None:
        """Poll every feed once, concurrently (the fetch limits bound concurrency).
        Once ``stop`` is set, polls not yet started are skipped; those in flight finish."""
        await self._drive(stop or asyncio.Event(), repeat=False)

    async def run(self, stop: asyncio.Event, grace: float | None = None) -> None:
        """Poll every feed (shared: every feed owned) on its schedule until ``stop`` is
        set; a poll in flight when it is set is finished, not abandoned (cancelled
        after ``grace`` seconds, if given)."""
        await self._drive(stop, repeat=True, grace=grace)

    async def _drive(self, stop: asyncio.Event, *, repeat: bool, grace: float | None = None
                     ) -> None:  # fmt: skip
        if not await self._load(stop):
            return
        limits = self._fetcher.limits
        queue = PollQueue(per_host=limits[0], total=limits[1])
        now = self._clock()
        for index in sorted(self._owned):
            due = self._first_due(self.feeds[index], now) if repeat else now
            queue.schedule(index, self._hosts[index], due)
        wake = asyncio.Event()
        helpers = [asyncio.create_task(_set_when(stop, wake), name="poller-stop"),
                   asyncio.create_task(self._flush_loop(stop), name="poller-flush")]  # fmt: skip
        polls: set[asyncio.Task[None]] = set()
        self._driving = (queue, wake) if repeat else None
        try:
            await self._loop(queue, wake, stop, polls, repeat)
            self._driving = None
            await _finish(polls, grace)  # started polls finish
        finally:
            self._driving = None
            for task in (*helpers, *polls):
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._flush(final=True)

    def own(self, urls: Iterable[str], restored: Restored) -> int:
        """Poll the configured feeds among ``urls`` from now on, each with its state in
        ``restored`` where that is newer than the store's (by last poll); returns how
        many were added (urls not configured, or owned already, are skipped)."""
        added = []
        for url in urls:
            index = self._index.get(url)
            if index is None or index in self._owned:
                continue
            if url in restored:
                self._restore(self.feeds[index], *restored[url])
            self._owned.add(index)
            added.append(index)
        if self._driving is not None and added:
            queue, wake = self._driving
            now = self._clock()
            for index in added:
                queue.schedule(index, self._hosts[index], self._first_due(self.feeds[index], now))
            wake.set()
        self._metrics.cluster_feeds_owned.set(len(self._owned))
        return len(added)

    def _restore(self, feed: FeedConfig, state: FeedState, known: bytes) -> None:
        local = self._states.get(feed.url) if self._loaded else None
        if local is None:
            try:
                local = self._store.feed_state(feed.url)
            except StoreError as exc:  # the restored state will do
                self._store_failed(exc)
                local = FeedState(url=feed.url)
        if local.last_poll is not None and (state.last_poll or 0.0) < local.last_poll:
            return  # this daemon polled it last: its own state is newer
        self._states[feed.url] = state
        self._store.stage_feed_state(state)
        self._known[feed.url] = known

    async def release(self, urls: Iterable[str], grace: float) -> Restored:
        """Poll the feeds among ``urls`` no more: none starts, those in flight have
        ``grace`` seconds to finish and are cancelled then. Returns each released
        feed's last state and known ids (what its next owner restores)."""
        gone = [i for url in urls if (i := self._index.get(url)) is not None and i in self._owned]
        self._owned.difference_update(gone)
        if self._driving is not None:
            for index in gone:
                self._driving[0].cancel(index)
        await _finish({t for i in gone if (t := self._polling.get(i)) is not None}, grace)
        self._metrics.cluster_feeds_owned.set(len(self._owned))
        out = {}
        for index in gone:
            feed = self.feeds[index]
            self._health.forget(feed)
            state = self._states.get(feed.url) or FeedState(url=feed.url)  # no store read
            out[feed.url] = (state, self._known.get(feed.url, b""))
        return out

    def backlog(self) -> int:
        """Polls due now that wait for a fetch slot (0 while :meth:`run` is not running):
        a daemon keeping up has few, briefly; one falling behind, more and more."""
        return 0 if self._driving is None else self._driving[0].waiting()

    def owned(self) -> list[str]:
        """The urls of the feeds polled now."""
        return [self.feeds[i].url for i in sorted(self._owned)]

    async def _loop(self, queue: PollQueue, wake: asyncio.Event, stop: asyncio.Event,
                    polls: set[asyncio.Task[None]], repeat: bool) -> None:  # fmt: skip
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        armed: float | None = None  # the due time the timer wakes the loop for
        try:
            while not stop.is_set():
                now = self._clock()
                held = self._may_poll is None or self._may_poll()
                for index in queue.take(now) if held else ():
                    task = loop.create_task(self._one(index, queue, wake, stop, repeat))
                    polls.add(task)
                    task.add_done_callback(polls.discard)
                if queue.idle() and not (repeat and self._shared):
                    return
                due = queue.next_due()
                if not held and due is not None:  # look again soon, not at once
                    due = max(due, now + LEASE_RECHECK)
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
        task = asyncio.current_task()
        if task is not None:
            self._polling[index] = task
        try:
            delay = await self._guarded_poll(feed, stop)
        finally:
            queue.done(index)
            wake.set()
            self._polling.pop(index, None)
        if self._on_state is not None and index in self._owned:
            self._on_state(self._state(feed), self._known.get(feed.url, b""))
        if repeat and not stop.is_set() and index in self._owned:
            queue.schedule(index, self._hosts[index], self._clock() + delay)

    async def _load(self, stop: asyncio.Event) -> bool:
        """Every feed's state, read at once (retried while the store fails); False
        if ``stop`` was set meanwhile."""
        while not stop.is_set():
            try:
                self._states = {s.url: s for s in self._store.feed_states()}
                self._loaded = True
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
