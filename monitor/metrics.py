"""Every newsmon metric, defined once, on an injected registry.

Names follow the Prometheus guide: prefix ``newsmon_``, base units, ``_total``
on counters. Labels are bounded: rule and receiver names come from config
(bounded by it), reasons, outcomes, topics and stages from fixed code lists;
never a URL, title or item id, and no per-feed label at all (tens of thousands
of feeds would be tens of thousands of series). Known label values are
pre-initialised, as Alertmanager does, so a series exists (at 0) before its
first event and every dashboard query has something to show.

Gauges whose value lives elsewhere (bus depth, the outbox) are read at scrape
time through :meth:`Metrics.watch`. The bus's and the cluster's metrics are defined in
:mod:`monitor.busmetrics`, which :class:`Metrics` extends.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)

from monitor import __version__
from monitor.busmetrics import BusMetrics
from monitor.errors import DEAD_LETTER_REASONS, DELIVERY_REASONS, FEED_REASONS

# the label values each labelled series starts with: the failure vocabularies of
# monitor.errors (bounded where each error is made), and the outcomes counted here
FETCH_OUTCOMES = ("ok", "not_modified", *FEED_REASONS)
FAILURE_REASONS = FEED_REASONS  # newsmon_feeds_failing{reason}
DELIVERY_OUTCOMES = ("sent", "retried", "rate_limited", "dead_lettered", "muted")
UPDATE_MODES = ("edit", "followup")
RELOAD_RESULTS = ("ok", "failed")
# Item.date_flag: why an item's date is not exactly the feed's (monitor.sources.dates)
DATE_FLAGS = ("unparseable", "future", "too_old", "date_only", "no_zone")

# seconds: fast local work ... a slow feed
_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)
# seconds: a receiver answering at once ... a day of retries
_DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
# seconds: how late a poll started after it was due
_DELAY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# seconds: a feed polled as a story breaks ... a week-old item found in an archive feed
_AGE_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
                86400, 3 * 86400, 7 * 86400)  # fmt: skip


class Metrics(BusMetrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # Counters without the client's extra `_created` series: Go clients have none,
        # and they would double the series of every counter and histogram.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # process_start_time_seconds, memory, cpu
        self._watched: list[Gauge] = []
        self._build()
        self._sources()
        self._stages()
        self._alerts()
        self._bus()
        self._cluster()

    def _build(self) -> None:
        self.build_info = Info("newsmon_build", "newsmon version", registry=self.registry)
        self.build_info.info({"version": __version__, "python": platform.python_version()})

    def _sources(self) -> None:
        r = self.registry
        self.feeds_configured = Gauge("newsmon_feeds_configured", "Feeds in the config", registry=r)
        self.feeds_healthy = Gauge(
            "newsmon_feeds_healthy", "Feeds whose last poll succeeded", registry=r
        )
        self.feeds_failing = Gauge(
            "newsmon_feeds_failing", "Feeds whose last poll failed, by reason", ["reason"],
            registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            "newsmon_feed_last_success_timestamp_seconds",
            "Unix time of the last successful poll of any feed (the process start before one)",
            registry=r,
        )
        self.last_success.set(time.time())
        self.fetches = Counter(
            "newsmon_feed_fetches_total", "Feed polls by outcome", ["outcome"], registry=r
        )
        self.fetch_duration = Histogram(
            "newsmon_feed_fetch_duration_seconds", "Time to fetch one feed",
            buckets=_FETCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.fetched_bytes = Counter(
            "newsmon_feed_fetched_bytes_total", "Feed body bytes after decompression", registry=r
        )
        self.items_parsed = Counter(
            "newsmon_items_parsed_total", "Items parsed from feed bodies", registry=r
        )
        self.items_published = Counter(
            "newsmon_items_published_total", "New items published to the bus", registry=r
        )
        self.item_age = Histogram(
            "newsmon_item_age_seconds",
            "How old a new item was when newsmon first saw it (seen - published), dated items",
            buckets=_AGE_BUCKETS, registry=r,
        )  # fmt: skip
        self._sources_cost()
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)
        for reason in FAILURE_REASONS:
            self.feeds_failing.labels(reason)
        for flag in DATE_FLAGS:
            self.dates_flagged.labels(flag)

    def _sources_cost(self) -> None:
        r = self.registry
        self.poll_delay = Histogram(
            "newsmon_feed_poll_delay_seconds",
            "How late polls started after they were due (waiting for a fetch slot included)",
            buckets=_DELAY_BUCKETS, registry=r,
        )  # fmt: skip
        self.feeds_truncated = Gauge(
            "newsmon_feeds_truncated",
            "Feeds whose last body had more entries than fetch.max_items (the newest read)",
            registry=r,
        )
        self.items_truncated = Counter(
            "newsmon_feed_items_truncated_total",
            "Feed entries left unread because their body had more than fetch.max_items",
            registry=r,
        )
        self.ids_disambiguated = Counter(
            "newsmon_item_ids_disambiguated_total",
            "New items whose id another entry of their feed shared, given one of their own",
            registry=r,
        )
        self.dates_flagged = Counter(
            "newsmon_item_dates_flagged_total",
            "New items whose date is not exactly the feed's, by flag (unparseable, future,"
            " too_old: the first-seen time; date_only, no_zone: no time or no zone given)",
            ["flag"],
            registry=r,
        )

    def _stages(self) -> None:
        r = self.registry
        self.matches = Counter(
            "newsmon_matches_total", "Items matched, by rule", ["rule"], registry=r
        )
        self.stories_created = Counter(
            "newsmon_stories_created_total", "New stories (first item of each)", registry=r
        )
        self.story_duplicates = Counter(
            "newsmon_story_duplicates_total",
            "Matched items absorbed into an existing story (copies, updates)",
            registry=r,
        )
        self.rule_reloads = Counter(
            "newsmon_rule_reloads_total",
            "Rule file reloads, by result (ok, failed: the old rules stay live)",
            ["result"],
            registry=r,
        )
        self.rules_loaded = Gauge("newsmon_rules_loaded", "Rules in the live engine", registry=r)
        for result in RELOAD_RESULTS:
            self.rule_reloads.labels(result)

    def _alerts(self) -> None:
        r = self.registry
        self.alerts_sent = Counter(
            "newsmon_alerts_sent_total", "Alerts accepted by a receiver", ["receiver"], registry=r
        )
        self.deliveries_failed = Counter(
            "newsmon_deliveries_failed_total",
            "Failed delivery attempts, by receiver and reason (timeout, connect, tls, http_429,"
            " http_4xx, http_5xx, smtp_4xx, smtp_5xx, smtp_auth, other)",
            ["receiver", "reason"],
            registry=r,
        )
        self.alert_deliveries = Counter(
            "newsmon_alert_deliveries_total",
            "Alert delivery outcomes by receiver: sent, retried, rate_limited, dead_lettered",
            ["receiver", "outcome"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "newsmon_alert_delivery_latency_seconds",
            "From an alert entering the outbox to its receiver accepting it",
            ["receiver"], buckets=_DELIVERY_BUCKETS, registry=r,
        )  # fmt: skip
        self.end_to_end_latency = Histogram(
            "newsmon_alert_end_to_end_latency_seconds",
            "From newsmon first seeing the item to the receiver accepting its alert",
            ["receiver"], buckets=_DELIVERY_BUCKETS, registry=r,
        )  # fmt: skip
        self.alerts_pending = Gauge(
            "newsmon_alerts_pending", "Alerts in the outbox not yet delivered", registry=r
        )
        self.story_updates = Counter(
            "newsmon_story_updates_total",
            "Story updates a receiver accepted, by mode: edit (its first message brought up to"
            " date in place), followup (a thread reply, a follow-up mail, an event)",
            ["receiver", "mode"],
            registry=r,
        )
        self.story_escalations = Counter(
            "newsmon_story_escalations_total",
            "Stories routed again at an escalation's severity (spreading)",
            registry=r,
        )

    def init_receivers(self, names: Iterable[str]) -> None:
        for name in names:
            self.alerts_sent.labels(name)
            for outcome in DELIVERY_OUTCOMES:
                self.alert_deliveries.labels(name, outcome)
            for reason in DELIVERY_REASONS:
                self.deliveries_failed.labels(name, reason)
            self.delivery_latency.labels(name)
            self.end_to_end_latency.labels(name)
            for mode in UPDATE_MODES:
                self.story_updates.labels(name, mode)
            self.deliveries_resent.labels(name)

    def init_rules(self, names: Iterable[str]) -> None:
        for name in names:
            self.matches.labels(name)

    def init_stages(self, stages: Mapping[str, str]) -> None:
        """``stages``: topic -> the stage consuming it; their depth, lag, dead letters
        and publish retries start at 0."""
        for topic, stage in stages.items():
            self.bus_depth.labels(topic)
            self.bus_consumer_lag.labels(topic, stage)
            self.bus_publish_retries.labels(topic)
            for reason in DEAD_LETTER_REASONS:
                self.bus_dead_letters.labels(topic, reason)

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Report ``read()`` as ``gauge``'s value at each scrape, until :meth:`unwatch`."""
        gauge.set_function(read)
        self._watched.append(gauge)

    def unwatch(self) -> None:
        """Stop reading: what the watched gauges read is closed; they fall back to 0."""
        for gauge in self._watched:
            gauge.set_function(lambda: 0.0)
        self._watched.clear()
