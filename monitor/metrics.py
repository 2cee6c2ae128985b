"""Every newsmon metric, defined once, on an injected registry.

Names follow the Prometheus guide: prefix ``newsmon_``, base units, ``_total``
on counters. Labels are bounded: feed names come from config (bounded by it),
reasons and outcomes from fixed code lists; never a URL, title or item id.
Known label values are pre-initialised so a series exists before its first
event.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from monitor import __version__

FETCH_OUTCOMES = (
    "ok", "not_modified", "timeout", "dns", "tls", "connect", "http_4xx", "http_5xx",
    "too_large", "too_many_redirects", "bad_scheme", "insecure_redirect", "ssrf_blocked",
    "bad_encoding", "protocol", "parse_error", "parse_timeout", "parse_crash",
    "xml_entities", "too_large_field", "error",
)  # fmt: skip

DELIVERY_OUTCOMES = ("sent", "retried", "rate_limited", "dead_lettered")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Info("newsmon_build", "newsmon version", registry=r)
        self.build_info.info({"version": __version__})
        self.feeds_configured = Gauge("newsmon_feeds_configured", "Feeds in the config", registry=r)
        self.feeds_failing = Gauge(
            "newsmon_feeds_failing",
            "Feeds whose last poll failed, by reason",
            ["reason"],
            registry=r,
        )
        self.fetches = Counter(
            "newsmon_feed_fetches_total", "Feed polls by outcome", ["outcome"], registry=r
        )
        self.fetch_duration = Histogram(
            "newsmon_feed_fetch_duration_seconds",
            "Time to fetch one feed",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
            registry=r,
        )
        self.fetched_bytes = Counter(
            "newsmon_feed_fetched_bytes_total",
            "Feed body bytes after decompression",
            registry=r,
        )
        self.items_parsed = Counter(
            "newsmon_items_parsed_total", "Items parsed from feed bodies", registry=r
        )
        self.items_published = Counter(
            "newsmon_items_published_total", "New items published to the bus", registry=r
        )
        self.matches = Counter(
            "newsmon_matches_total", "Items matched, by rule", ["rule"], registry=r
        )
        self.alerts_sent = Counter(
            "newsmon_alerts_sent_total",
            "Alerts accepted by a receiver",
            ["receiver"],
            registry=r,
        )
        self.deliveries_failed = Counter(
            "newsmon_deliveries_failed_total",
            "Failed delivery attempts",
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
            ["receiver"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
            registry=r,
        )
        self.stories_created = Counter(
            "newsmon_stories_created_total", "New stories (first item of each)", registry=r
        )
        self.story_duplicates = Counter(
            "newsmon_story_duplicates_total",
            "Matched items absorbed into an existing story (copies, updates)",
            registry=r,
        )
        self.alerts_pending = Gauge(
            "newsmon_alerts_pending", "Alerts in the outbox not yet delivered", registry=r
        )
        self.bus_depth = Gauge(
            "newsmon_bus_queue_depth",
            "Messages published but not yet processed",
            ["topic"],
            registry=r,
        )
        self.bus_dead_letters = Counter(
            "newsmon_bus_dead_letters_total",
            "Records a stage could not read, sent to the dead-letter topic, by reason",
            ["topic", "reason"],
            registry=r,
        )
        self.bus_consumer_lag = Gauge(
            "newsmon_bus_consumer_lag_messages",
            "Records in a topic not yet consumed by a stage's consumer group (kafka)",
            ["topic", "stage"],
            registry=r,
        )
        self.bus_publish_retries = Counter(
            "newsmon_bus_publish_retries_total",
            "Publishes retried because the broker did not take them",
            ["topic"],
            registry=r,
        )
        self.rule_reloads = Counter(
            "newsmon_rule_reloads_total",
            "Rule file reloads, by result (ok, failed: the old rules stay live)",
            ["result"],
            registry=r,
        )
        self.rules_loaded = Gauge("newsmon_rules_loaded", "Rules in the live engine", registry=r)
        for result in ("ok", "failed"):
            self.rule_reloads.labels(result)
        for outcome in FETCH_OUTCOMES:
            self.fetches.labels(outcome)

    def init_receivers(self, names: Iterable[str]) -> None:
        for name in names:
            self.alerts_sent.labels(name)
            for outcome in DELIVERY_OUTCOMES:
                self.alert_deliveries.labels(name, outcome)
            self.delivery_latency.labels(name)

    def init_rules(self, names: Iterable[str]) -> None:
        for name in names:
            self.matches.labels(name)
