"""One poll of one feed: fetch, parse, publish what is new, record what happened.

:class:`Polls` is the poll of a feed, as :class:`~monitor.sources.poller.Poller`
runs it on its schedule. A poll never raises for its feed's own failure: that
is recorded in the feed's state, and a bug in fetch, parse or publish costs that
poll only (logged with its traceback once per distinct error, counted as the
feed's error ``error``). Feed state is kept in memory (read from the store once)
and staged in the store, written in batches by the poller (``Store.flush``). An
item is published once per feed, ever: its seen mark is staged only after the
bus took it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import NotRequired, TypedDict, Unpack

from monitor.bus import ITEMS, Bus
from monitor.config import FeedConfig, ScheduleConfig, redact_urls
from monitor.errors import FeedError, FetchError, ParseError, StoreError
from monitor.metrics import Metrics
from monitor.model import Item
from monitor.sources.fetch import Fetcher, FetchResult, NotStarted
from monitor.sources.health import Health
from monitor.sources.normalise import ParsedFeed
from monitor.sources.pool import ParsePool
from monitor.sources.schedule import Outcome, max_age, plan
from monitor.store import FeedState, Store

log = logging.getLogger("monitor.sources.poller")

MIN_REST = 0.5  # of a feed's delay: the least time from the end of a poll to the next one


class PollDeps(TypedDict):
    """What a poll works with: passed on unchanged by the poller's constructor."""

    fetcher: Fetcher
    parser: ParsePool
    store: Store
    bus: Bus
    metrics: Metrics
    schedule: ScheduleConfig
    clock: NotRequired[Callable[[], float]]  # time.time
    rng: NotRequired[random.Random | None]  # a fresh one


class Polls:
    def __init__(self, feeds: Sequence[FeedConfig], **deps: Unpack[PollDeps]) -> None:
        self.feeds = tuple(feeds)
        self._fetcher, self._parser = deps["fetcher"], deps["parser"]
        self._store, self._bus, self._metrics = deps["store"], deps["bus"], deps["metrics"]
        self._schedule = deps["schedule"]
        self._clock = deps.get("clock", time.time)
        self._rng = deps.get("rng") or random.Random()
        self._states: dict[str, FeedState] = {}  # what the store holds, and what is staged
        self._known: dict[str, bytes] = {}  # feed url -> id digests of its last body's items
        self._bugs: dict[str, str] = {}  # feed url -> the bug its last poll hit, logged once
        self._health = Health(self.feeds, self._metrics)
        fetches = self._metrics.fetches
        self._outcomes = {o: fetches.labels(o) for o in ("ok", "not_modified", "error")}

    def _state(self, feed: FeedConfig) -> FeedState:
        state = self._states.get(feed.url)
        if state is None:
            state = self._states[feed.url] = self._store.feed_state(feed.url)
        return state

    def _keep(self, state: FeedState) -> None:
        self._states[state.url] = state
        self._store.stage_feed_state(state)

    async def poll(self, feed: FeedConfig, stop: asyncio.Event | None = None) -> float:
        """Poll ``feed`` once; returns the delay until its next poll (after a success
        counted from the poll's start: :func:`_next_in`; after a failure from now).
        Never raises for a feed's own failure: that is recorded in its state. When
        ``stop`` is set before the poll started, nothing is done and 0.0 returned."""
        state = self._state(feed)
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
        nxt = plan(outcome, interval=state.interval, errors=state.consecutive_errors,
                   config=self._schedule, fixed=feed.interval, rng=self._rng)  # fmt: skip
        now = self._clock()
        delay = nxt.delay if failure is not None else _next_in(started, now, nxt.delay)
        self._keep(_evolve(state, interval=nxt.interval, next_poll=now + delay))
        if failure is not None:
            self._health.failed(feed, failure, state.consecutive_errors, nxt.delay)
        else:
            self._health.ok(feed)
            self._bugs.pop(feed.url, None)  # a bug seen again after this is logged again
        return delay

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
            if result.status == 304:
                self._outcomes["not_modified"].inc()
                succeeded = self._succeeded(feed, state, result, started, "not_modified")
                return Outcome(ok=True, max_age=max_age(result.headers)), succeeded
            self._metrics.fetched_bytes.inc(len(result.body))
            known = self._known.get(feed.url, b"")
            parsed = await self._parser.parse(
                result.body, result.headers, feed, seen=datetime.now(UTC), known=known
            )
            result = replace(result, body=b"")  # let the body go before publishing
        self._metrics.items_parsed.inc(len(parsed.items) + parsed.skipped)
        published = await self._publish_new(feed, parsed.items)
        self._known[feed.url] = parsed.known  # every id in it is seen now
        self._outcomes["ok"].inc()
        self._health.parsed(feed, parsed)
        outcome = Outcome(
            ok=True, new_items=published, ttl=parsed.ttl, max_age=max_age(result.headers)
        )
        state = self._succeeded(feed, state, result, started, "ok", parsed)
        return outcome, state

    async def _publish_new(self, feed: FeedConfig, items: Sequence[Item]) -> int:
        if not items:
            return 0
        fresh = set(self._store.unseen(feed.url, (i.id for i in items)))
        once = list({i.id: i for i in reversed(items) if i.id in fresh}.values())  # the first
        once.sort(key=lambda i: i.published or i.seen)
        if not once:
            return 0
        await self._bus.publish_many(ITEMS, [(item.id, item) for item in once])
        self._store.stage_seen(feed.url, once, self._clock())
        self._health.published(once)
        log.info("items_published feed=%s count=%d", feed.name, len(once))
        return len(once)

    def _succeeded(
        self,
        feed: FeedConfig,
        state: FeedState,
        result: FetchResult,
        at: float,
        reason: str,
        parsed: ParsedFeed | None = None,
    ) -> FeedState:
        if state.consecutive_errors:
            log.info("feed_recovered feed=%s after_errors=%d", feed.name, state.consecutive_errors)
        self._health.set_failing(feed, None)
        self._metrics.last_success.set(at)
        return _evolve(
            state,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
            last_poll=at,
            last_success=at,
            consecutive_errors=0,
            last_status=result.status,
            last_reason=reason,
            last_error=None,
            title=state.title if parsed is None else parsed.title,
            truncated=state.truncated if parsed is None else parsed.truncated,
        )

    def _failed(self, feed: FeedConfig, state: FeedState, exc: FeedError, at: float) -> FeedState:
        self._metrics.fetches.labels(exc.reason).inc()
        self._health.set_failing(feed, exc.reason)
        failed = replace(
            state,
            last_poll=at,
            consecutive_errors=state.consecutive_errors + 1,
            last_status=exc.status if isinstance(exc, FetchError) else None,
            last_reason=exc.reason,
            last_error=exc.detail[:2000],
        )
        self._states[feed.url] = failed
        self._store.stage_feed_error(failed, at, exc.reason, exc.detail)
        return failed

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
        self._outcomes["error"].inc()
        self._health.set_failing(feed, "error")
        try:
            at = self._clock()
            retry = at + self._schedule.min_interval
            failed = replace(self._state(feed), last_poll=at, last_reason="error",
                             last_error=text, next_poll=retry)  # fmt: skip
            self._states[feed.url] = failed
            self._store.stage_feed_error(failed, at, "error", text)  # stages the state too
        except Exception:  # the store may be what fails: the log line is the record
            log.debug("poll_crash_not_recorded feed=%s", feed.name)


def _next_in(started: float, now: float, delay: float) -> float:
    """The seconds from ``now`` until a successful poll that started at ``started``
    and ended ``now`` is next due: ``delay`` after its start, so the time it took
    (fetching, waiting for a parse worker, parsing, publishing) does not push its
    feed's schedule back; but at least MIN_REST x ``delay`` after its end (a poll that
    took most of its interval does not make the next one follow at once)."""
    return max(delay - (now - started), MIN_REST * delay)


_FIELDS = tuple(FeedState.__dataclass_fields__)
_INDEX = {name: n for n, name in enumerate(_FIELDS)}
_VALUES = attrgetter(*_FIELDS)  # a state's fields in order, in one C call


def _evolve(state: FeedState, **changes: object) -> FeedState:
    """``dataclasses.replace`` for the poll path (twice per poll): the same, cheaper."""
    values = list(_VALUES(state))
    for name, value in changes.items():
        values[_INDEX[name]] = value
    return FeedState(*values)


def _cancelling() -> bool:
    """Is the current task being cancelled (as opposed to seeing a CancelledError
    that some future it awaited raised)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
