"""The sources stage: poll each feed on its schedule, publish its new items.

One task per feed sleeps until the feed is due (or the stop event is set),
polls it, and plans the next poll from what it saw. A failing feed records its
reason and backs off; the other feeds keep their own schedules. Nothing a poll
raises ends a feed's task: a failing store is retried after STORE_RETRY, and a
bug (any other exception, or a CancelledError that was not aimed at the task)
is logged with its traceback once per distinct error, counted as the feed's
error ``error`` and retried after min_interval. An item is published once per
feed, ever: it is marked seen in the store only after the bus took it, so a
crash in between republishes rather than loses it.

A poll *starts* when its fetch gets a slot (see ``Fetcher``): once the stop event
is set, polls not started are skipped and polls started are finished.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from monitor.bus import ITEMS, Bus
from monitor.config import FeedConfig, ScheduleConfig, redact_urls
from monitor.errors import FeedError, FetchError, ParseError, StoreError
from monitor.metrics import Metrics
from monitor.model import Item
from monitor.sources.fetch import Fetcher, FetchResult, NotStarted
from monitor.sources.pool import ParsePool
from monitor.sources.report import FailureLog
from monitor.sources.schedule import Outcome, first_delay, max_age, plan
from monitor.store import FeedState, Store

log = logging.getLogger(__name__)

STORE_RETRY = 30.0  # seconds before a feed is polled again while the store fails


class Poller:
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
    ) -> None:
        self.feeds = tuple(feeds)
        self._fetcher = fetcher
        self._parser = parser
        self._store = store
        self._bus = bus
        self._metrics = metrics
        self._schedule = schedule
        self._clock = clock
        self._rng = rng or random.Random()
        self._failing: dict[str, str] = {}  # feed url -> reason its last poll failed
        self._failing_by: Counter[str] = Counter()  # reason -> feeds failing for it
        self._healthy: set[str] = set()  # feed urls whose last poll succeeded
        self._store_error: str | None = None
        self._bugs: dict[str, str] = {}  # feed url -> the bug its last poll hit, logged once
        self._report = FailureLog(len(self.feeds))
        metrics.feeds_configured.set(len(self.feeds))

    async def run_once(self, stop: asyncio.Event | None = None) -> None:
        """Poll every feed once, concurrently (the fetcher bounds concurrency).
        Once ``stop`` is set, polls not yet started are skipped; those in flight finish."""
        await asyncio.gather(*(self._guarded_poll(feed, stop) for feed in self.feeds))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every feed on its schedule until ``stop`` is set; a poll in
        flight when it is set is finished, not abandoned."""
        async with asyncio.TaskGroup() as group:
            for feed in self.feeds:
                group.create_task(self._feed_loop(feed, stop), name=f"poll {feed.name}")

    async def _feed_loop(self, feed: FeedConfig, stop: asyncio.Event) -> None:
        delay = await self._first_delay(feed, stop)
        while not await _sleep_unless(stop, delay):
            delay = await self._guarded_poll(feed, stop)

    async def _first_delay(self, feed: FeedConfig, stop: asyncio.Event) -> float:
        """Until the feed's planned poll; a first or overdue poll is spread (first_delay)."""
        while True:
            try:
                state = self._store.feed_state(feed.url)
            except StoreError as exc:
                self._store_failed(exc)
                if await _sleep_unless(stop, min(self._schedule.min_interval, STORE_RETRY)):
                    return 0.0
                continue
            due = None if state.next_poll is None else state.next_poll - self._clock()
            if due is not None and due > 0:
                return due
            return first_delay(self._schedule, len(self.feeds), self._rng)

    async def _guarded_poll(self, feed: FeedConfig, stop: asyncio.Event | None) -> float:
        """:meth:`poll`, and the delay until the next; nothing it raises escapes but
        this task's own cancellation."""
        try:
            delay = await self.poll(feed, stop)
        except StoreError as exc:  # the feed's state cannot be kept: try again soon
            self._store_failed(exc)
            return min(self._schedule.min_interval, STORE_RETRY)
        except asyncio.CancelledError as exc:
            if _cancelling():
                raise
            self._bug(feed, exc)
        except Exception as exc:  # a bug must not stop this feed, the others or the daemon
            self._bug(feed, exc)
        else:
            self._store_failed(None)
            return delay
        return self._schedule.min_interval

    def _log_bug(self, feed: FeedConfig, exc: BaseException) -> str:
        """Log a bug hit by ``feed``'s poll, with its traceback, once per distinct
        error (again after a success); returns its text."""
        text = redact_urls(f"{type(exc).__name__}: {exc}")[:500]
        if self._bugs.get(feed.url) != text:
            self._bugs[feed.url] = text
            log.error("poll_crashed feed=%s error=%s", feed.name, text, exc_info=exc)
        return text

    def _bug(self, feed: FeedConfig, exc: BaseException) -> None:
        """A bug escaped :meth:`poll`: log it once, count and record it as the
        feed's error ``error`` (best effort: the store may be what fails)."""
        text = self._log_bug(feed, exc)
        self._metrics.fetches.labels("error").inc()
        self._set_failing(feed, "error")
        try:
            state = self._store.feed_state(feed.url)
            at = self._clock()
            failed = replace(state, last_poll=at, last_reason="error", last_error=text,
                             next_poll=at + self._schedule.min_interval)  # fmt: skip
            self._store.record_feed_error(failed, at, "error", text)  # saves the state too
        except Exception:  # the store may be what fails: the log line is the record
            log.debug("poll_crash_not_recorded feed=%s", feed.name)

    def _store_failed(self, exc: StoreError | None) -> None:
        """Log a store failure once (and once again when it changes or ends)."""
        text = None if exc is None else str(exc)
        if text == self._store_error:
            return
        if text is None:
            log.info("store_recovered")
        else:
            log.warning("store_failed error=%s (polls retried; items republished after)", text)
        self._store_error = text

    async def poll(self, feed: FeedConfig, stop: asyncio.Event | None = None) -> float:
        """Poll ``feed`` once; returns the delay until its next poll. Never
        raises for a feed's own failure: that is recorded in its state. When
        ``stop`` is set before the poll started, nothing is done and 0.0 returned."""
        state = self._store.feed_state(feed.url)
        started = self._clock()
        failure: FeedError | None = None
        try:
            outcome, state = await self._fetch_and_publish(feed, state, stop)
        except NotStarted:
            return 0.0
        except FeedError as exc:
            failure = exc
        except StoreError:
            raise
        except asyncio.CancelledError:
            if _cancelling():
                raise
            # not aimed at this task (a worker pool's job was cancelled): the feed's error
            failure = ParseError("parse_crash", "parse job cancelled")
        except Exception as exc:  # a bug in fetch, parse or publish costs this poll only
            failure = FeedError("error", self._log_bug(feed, exc))
        if failure is not None:
            wait = failure.retry_after if isinstance(failure, FetchError) else None
            outcome = Outcome(ok=False, retry_after=wait)
            state = self._failed(feed, state, failure, started)
        nxt = plan(
            outcome,
            interval=state.interval,
            errors=state.consecutive_errors,
            config=self._schedule,
            fixed=feed.interval,
            rng=self._rng,
        )
        state = replace(state, interval=nxt.interval, next_poll=self._clock() + nxt.delay)
        self._store.save_feed_state(state)
        if failure is not None:
            self._report.failed(feed, failure, state.consecutive_errors, nxt.delay)
        elif outcome.ok:
            self._report.ok(feed)
            self._bugs.pop(feed.url, None)  # a bug seen again after this is logged again
        return nxt.delay

    async def _fetch_and_publish(
        self, feed: FeedConfig, state: FeedState, stop: asyncio.Event | None
    ) -> tuple[Outcome, FeedState]:
        started = self._clock()
        async with self._parser.admission() as admit:  # bounds the bodies held at once
            result = await self._fetcher.fetch(
                feed.secret_url or feed.url,
                etag=state.etag,
                last_modified=state.last_modified,
                admit=admit,
                stop=stop,
            )
            self._metrics.fetch_duration.observe(result.elapsed)  # not counting slot waits
            self._metrics.fetched_bytes.inc(len(result.body))
            if result.status == 304:
                self._metrics.fetches.labels("not_modified").inc()
                return Outcome(ok=True, max_age=max_age(result.headers)), self._succeeded(
                    feed, state, result, started, "not_modified", title=state.title
                )
            parsed = await self._parser.parse(
                result.body, result.headers, feed, seen=datetime.now(UTC)
            )
            result = replace(result, body=b"")  # let the body go before publishing
        self._metrics.items_parsed.inc(len(parsed.items))
        published = await self._publish_new(feed, parsed.items)
        self._metrics.fetches.labels("ok").inc()
        if parsed.bozo:
            log.debug("feed_bozo feed=%s detail=%r", feed.name, parsed.bozo)
        outcome = Outcome(
            ok=True, new_items=published, ttl=parsed.ttl, max_age=max_age(result.headers)
        )
        return outcome, self._succeeded(feed, state, result, started, "ok", title=parsed.title)

    async def _publish_new(self, feed: FeedConfig, items: Sequence[Item]) -> int:
        fresh = set(self._store.unseen(feed.url, (i.id for i in items)))
        new = [i for i in items if i.id in fresh]
        new.sort(key=lambda i: i.published or i.seen)
        once = list({item.id: item for item in reversed(new)}.values())  # an id twice: the first
        once.sort(key=lambda i: i.published or i.seen)
        await self._bus.publish_many(ITEMS, [(item.id, item) for item in once])
        done = {item.id for item in once}
        for item in once:
            if item.published is not None:  # a future date counts as age 0
                age = (item.seen - item.published).total_seconds()
                self._metrics.item_age.observe(max(0.0, age))
        self._store.mark_seen(feed.url, done, self._clock())
        self._metrics.items_published.inc(len(done))
        if done:
            log.info("items_published feed=%s count=%d", feed.name, len(done))
        return len(done)

    def _succeeded(
        self,
        feed: FeedConfig,
        state: FeedState,
        result: FetchResult,
        at: float,
        reason: str,
        *,
        title: str | None,
    ) -> FeedState:
        if state.consecutive_errors:
            log.info("feed_recovered feed=%s after_errors=%d", feed.name, state.consecutive_errors)
        self._set_failing(feed, None)
        self._metrics.last_success.set(at)
        return replace(
            state,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
            last_poll=at,
            last_success=at,
            consecutive_errors=0,
            last_status=result.status,
            last_reason=reason,
            last_error=None,
            title=title,
        )

    def _failed(self, feed: FeedConfig, state: FeedState, exc: FeedError, at: float) -> FeedState:
        self._metrics.fetches.labels(exc.reason).inc()
        self._set_failing(feed, exc.reason)
        failed = replace(
            state,
            last_poll=at,
            consecutive_errors=state.consecutive_errors + 1,
            last_status=exc.status if isinstance(exc, FetchError) else None,
            last_reason=exc.reason,
            last_error=exc.detail[:2000],
        )
        self._store.record_feed_error(failed, at, exc.reason, exc.detail)
        return failed

    def _set_failing(self, feed: FeedConfig, reason: str | None) -> None:
        """Count ``feed`` healthy (``reason`` None) or failing for ``reason``; a reason
        no feed has any more stays at 0 (its series never disappears)."""
        if reason is None:
            self._healthy.add(feed.url)
        else:
            self._healthy.discard(feed.url)
        before = self._failing.pop(feed.url, None)
        if before is not None:
            self._failing_by[before] -= 1
            self._metrics.feeds_failing.labels(before).set(self._failing_by[before])
        if reason is not None:
            self._failing[feed.url] = reason
            self._failing_by[reason] += 1
            self._metrics.feeds_failing.labels(reason).set(self._failing_by[reason])
        self._metrics.feeds_healthy.set(len(self._healthy))


def _cancelling() -> bool:
    """Is the current task being cancelled (as opposed to seeing a CancelledError
    that some future it awaited raised)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _sleep_unless(stop: asyncio.Event, delay: float) -> bool:
    """Sleep ``delay`` seconds; True at once if ``stop`` is (or becomes) set."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.0))
    except TimeoutError:
        return False
    return True
