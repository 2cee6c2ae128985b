"""What the poller tells the operator about its feeds and their items: the health
gauges (healthy, failing by reason, truncated), the failure log
(:mod:`monitor.sources.report`), and the facts of each parsed body and new item
that the parse workers cannot log themselves (they have no logging set up):
duplicate ids disambiguated, bodies cut to ``fetch.max_items``, dates flagged,
how old new items are."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from monitor.config import FeedConfig
from monitor.errors import FeedError
from monitor.metrics import DATE_FLAGS, Metrics
from monitor.model import Item
from monitor.sources.normalise import ParsedFeed
from monitor.sources.report import FailureLog

log = logging.getLogger("monitor.sources.poller")


class Health:
    def __init__(self, feeds: Sequence[FeedConfig], metrics: Metrics) -> None:
        self._metrics = metrics
        self._failing: dict[str, str] = {}  # feed url -> reason its last poll failed
        self._failing_by: Counter[str] = Counter()  # reason -> feeds failing for it
        self._healthy: set[str] = set()  # feed urls whose last poll succeeded
        self._duplicates: dict[str, int] = {}  # feed url -> duplicate ids in its last body
        self._truncated: set[str] = set()  # feed urls whose last body was cut
        self._report = FailureLog(len(feeds))
        self._flags = {flag: metrics.dates_flagged.labels(flag) for flag in DATE_FLAGS}
        metrics.feeds_configured.set(len(feeds))

    def failed(self, feed: FeedConfig, exc: FeedError, errors: int, next_in: float) -> None:
        self._report.failed(feed, exc, errors, next_in)

    def ok(self, feed: FeedConfig) -> None:
        self._report.ok(feed)

    def parsed(self, feed: FeedConfig, parsed: ParsedFeed) -> None:
        """Log and count what a body's parse found that the worker could not say."""
        if parsed.bozo:
            log.debug("feed_bozo feed=%s detail=%r", feed.name, parsed.bozo)
        if parsed.duplicate_ids != self._duplicates.get(feed.url, 0):
            if parsed.duplicate_ids:
                self._duplicates[feed.url] = parsed.duplicate_ids
                log.warning("feed_duplicate_ids feed=%s count=%d (both items kept, ids"
                            " disambiguated)", feed.name, parsed.duplicate_ids)  # fmt: skip
            else:
                del self._duplicates[feed.url]
        if parsed.truncated:
            self._metrics.items_truncated.inc(parsed.truncated)
            if feed.url not in self._truncated:
                self._truncated.add(feed.url)
                log.warning("feed_truncated feed=%s unread=%d (the newest read: fetch.max_items)",
                            feed.name, parsed.truncated)  # fmt: skip
        else:
            self._truncated.discard(feed.url)
        self._metrics.feeds_truncated.set(len(self._truncated))
        if parsed.renamed:
            self._metrics.ids_disambiguated.inc(len(parsed.renamed))

    def published(self, items: Sequence[Item]) -> None:
        """Count the new items' ages and flagged dates."""
        m = self._metrics
        for item in items:
            if item.date_flag is not None:
                (self._flags.get(item.date_flag) or m.dates_flagged.labels(item.date_flag)).inc()
                if item.published == item.seen:  # the first-seen fallback: no age
                    continue
            if item.published is not None:  # a future date counts as age 0
                m.item_age.observe(max(0.0, (item.seen - item.published).total_seconds()))
        m.items_published.inc(len(items))

    def forget(self, feed: FeedConfig) -> None:
        """``feed`` is polled elsewhere now: counted neither healthy nor failing here."""
        self._healthy.discard(feed.url)
        self._truncated.discard(feed.url)
        self._duplicates.pop(feed.url, None)
        if (before := self._failing.pop(feed.url, None)) is not None:
            self._failing_by[before] -= 1
            self._metrics.feeds_failing.labels(before).set(self._failing_by[before])
        self._metrics.feeds_healthy.set(len(self._healthy))
        self._metrics.feeds_truncated.set(len(self._truncated))

    def set_failing(self, feed: FeedConfig, reason: str | None) -> None:
        """Count ``feed`` healthy (``reason`` None) or failing for ``reason``; a reason
        no feed has any more stays at 0 (its series never disappears)."""
        if reason is None:
            if feed.url in self._healthy:
                return  # nothing changes: the common case, kept cheap
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
