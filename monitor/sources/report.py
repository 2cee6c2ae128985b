"""What the log says about failing feeds: enough to act on, never a flood.

A feed's failure is logged when it starts or its reason changes, with when the
feed is tried next; while it keeps failing for the same reason, a reminder at most
every ``REMIND_EVERY`` seconds (so a feed failing for a day is not silent after
its first line, nor one line per poll). A recovery is logged by the poller. When
the first poll of every feed of a start fails with ``dns``, one line says so: the
machine most likely has no network or no resolver, not 6 (or 6,000) broken feeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from monitor.config import FeedConfig
from monitor.errors import FeedError

log = logging.getLogger("monitor.sources.poller")

REMIND_EVERY = 600.0  # seconds between two lines about a feed failing for one reason


class FailureLog:
    def __init__(self, feeds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._feeds = feeds
        self._clock = clock
        self._said: dict[str, tuple[str, float]] = {}  # feed url -> (reason, when logged)
        self._first: dict[str, str] = {}  # feed url -> reason of its first poll ("ok")
        self._verdict_given = False

    def failed(self, feed: FeedConfig, exc: FeedError, errors: int, next_in: float) -> None:
        """Feed ``feed``'s poll failed with ``exc`` (its ``errors``-th in a row); it is
        polled again in ``next_in`` seconds."""
        now = self._clock()
        said = self._said.get(feed.url)
        if said is None or said[0] != exc.reason:
            log.warning("feed_failed feed=%s reason=%s detail=%r next_poll_in=%.0fs",
                        feed.name, exc.reason, exc.detail, next_in)  # fmt: skip
            self._said[feed.url] = (exc.reason, now)
        elif now - said[1] >= REMIND_EVERY:
            log.warning("feed_still_failing feed=%s reason=%s errors=%d next_poll_in=%.0fs",
                        feed.name, exc.reason, errors, next_in)  # fmt: skip
            self._said[feed.url] = (exc.reason, now)
        self._first_poll(feed, exc.reason)

    def ok(self, feed: FeedConfig) -> None:
        self._said.pop(feed.url, None)
        self._first_poll(feed, "ok")

    def _first_poll(self, feed: FeedConfig, reason: str) -> None:
        if self._verdict_given:
            return
        self._first.setdefault(feed.url, reason)
        if len(self._first) < self._feeds:
            return
        self._verdict_given = True
        all_dns = all(r == "dns" for r in self._first.values())
        self._first.clear()
        if all_dns:
            log.warning(
                "all_feeds_failing reason=dns feeds=%d: no feed's host name could be resolved;"
                " this machine looks offline or without DNS (to try newsmon without a network:"
                " make demo)", self._feeds,
            )  # fmt: skip
