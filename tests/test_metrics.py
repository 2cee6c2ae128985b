"""The metrics: names, pre-initialised series, and what the stages count, on real components."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from feedserver import FeedServer, feed, status
from prometheus_client import CollectorRegistry
from support.config import ROOT, write_config
from support.samples import EXPECTED, serve_samples

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig, load_config
from monitor.errors import (
    DELIVERY_REASONS,
    FETCH_REASONS,
    PARSE_REASONS,
    DeliveryError,
    FetchError,
    ParseError,
)
from monitor.metrics import DELIVERY_OUTCOMES, FAILURE_REASONS, FETCH_OUTCOMES, Metrics
from monitor.rules.engine import Engine
from monitor.sources.fetch import Fetcher
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import Store

BOUNDED_LABELS = {"reason", "outcome", "receiver", "rule", "topic", "stage", "result", "flag",
                  "version", "python", "mode", "role", "client"}  # fmt: skip
EMPTY_RSS = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'


def fresh() -> Metrics:
    metrics = Metrics(CollectorRegistry())
    metrics.init_receivers(["desk", "pager"])
    metrics.init_rules(["s400", "f35"])
    metrics.init_stages({"items": "rules", "matches": "alerts"})
    return metrics


def test_names_follow_the_prometheus_guide() -> None:
    families = list(fresh().registry.collect())
    assert families
    for family in families:
        assert family.name.startswith(("newsmon_", "process_")), family.name
        assert family.documentation, family.name
        for sample in family.samples:
            assert not sample.name.endswith("_created"), sample.name
            assert set(sample.labels) - {"le"} <= BOUNDED_LABELS, sample
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
    info = fresh().registry.get_sample_value
    assert info("newsmon_build_info", {"version": "0.1.0", "python": _python()}) == 1


def _python() -> str:
    import platform

    return platform.python_version()


def test_known_label_values_exist_at_zero_before_any_event() -> None:
    value = fresh().registry.get_sample_value
    for receiver in ("desk", "pager"):
        assert value("newsmon_alerts_sent_total", {"receiver": receiver}) == 0
        for outcome in DELIVERY_OUTCOMES:
            labels = {"receiver": receiver, "outcome": outcome}
            assert value("newsmon_alert_deliveries_total", labels) == 0
        for reason in DELIVERY_REASONS:
            labels = {"receiver": receiver, "reason": reason}
            assert value("newsmon_deliveries_failed_total", labels) == 0
        for name in ("delivery_latency", "end_to_end_latency"):
            assert value(f"newsmon_alert_{name}_seconds_count", {"receiver": receiver}) == 0
    for rule in ("s400", "f35"):
        assert value("newsmon_matches_total", {"rule": rule}) == 0
    for outcome in FETCH_OUTCOMES:
        assert value("newsmon_feed_fetches_total", {"outcome": outcome}) == 0
    for reason in FAILURE_REASONS:
        assert value("newsmon_feeds_failing", {"reason": reason}) == 0
    for topic, stage in (("items", "rules"), ("matches", "alerts")):
        assert value("newsmon_bus_queue_depth", {"topic": topic}) == 0
        assert value("newsmon_bus_consumer_lag_messages", {"topic": topic, "stage": stage}) == 0
    for result in ("ok", "failed"):
        assert value("newsmon_rule_reloads_total", {"result": result}) == 0
    assert value("newsmon_item_age_seconds_count") == 0


def test_failure_reasons_are_bounded_where_the_error_is_made() -> None:
    """A reason outside its vocabulary is a bug: it raises at once, so no error can
    carry a label value the metrics did not pre-initialise."""
    with pytest.raises(ValueError, match="not one of"):
        FetchError("parse_error")  # a parse reason is no fetch reason
    with pytest.raises(ValueError, match="not one of"):
        ParseError("timeout")
    with pytest.raises(ValueError, match="not one of"):
        DeliveryError("http_401", retryable=False)  # the status goes in the detail
    error = DeliveryError("http_4xx", "HTTP 401", retryable=False)
    assert (error.reason, error.detail, str(error)) == (
        "http_4xx",
        "HTTP 401",
        "http_4xx: HTTP 401",
    )
    assert set(FETCH_REASONS) | set(PARSE_REASONS) <= set(FAILURE_REASONS)
    assert set(FAILURE_REASONS) <= set(FETCH_OUTCOMES)


def test_the_fetchers_exception_table_speaks_the_fetch_vocabulary() -> None:
    from monitor.sources.fetcherrors import _REASONS

    assert {reason for _, reason in _REASONS} <= set(FETCH_REASONS)


async def test_poller_counts_healthy_and_failing_feeds_as_they_change(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    metrics = fresh()
    value = metrics.registry.get_sample_value
    good = FeedConfig(feed_server.add("/good.xml", feed(EMPTY_RSS)), "good")
    flaky = FeedConfig(feed_server.add("/flaky.xml", status(404)), "flaky")
    config = FetchConfig(allow_networks=(f"127.0.0.1/32:{feed_server.port}",), timeout=5)
    async with Fetcher(config) as fetcher, ParsePool(workers=1) as parser, MemoryBus() as bus:
        with Store(tmp_path / "state.db") as store:
            poller = Poller([good, flaky], fetcher=fetcher, parser=parser, store=store,
                            bus=bus, metrics=metrics, schedule=ScheduleConfig())  # fmt: skip
            started = time.time()
            await poller.run_once()
            assert value("newsmon_feeds_configured") == 2
            assert value("newsmon_feeds_healthy") == 1
            assert value("newsmon_feeds_failing", {"reason": "http_4xx"}) == 1
            assert value("newsmon_feed_fetches_total", {"outcome": "http_4xx"}) == 1
            assert value("newsmon_feed_last_success_timestamp_seconds") >= started  # type: ignore[operator]

            feed_server.add("/flaky.xml", status(503))  # fails for another reason
            await poller.poll(flaky)
            assert value("newsmon_feeds_failing", {"reason": "http_4xx"}) == 0
            assert value("newsmon_feeds_failing", {"reason": "http_5xx"}) == 1

            feed_server.add("/flaky.xml", feed(EMPTY_RSS))  # recovers
            await poller.poll(flaky)
            assert value("newsmon_feeds_healthy") == 2
            assert value("newsmon_feeds_failing", {"reason": "http_5xx"}) == 0  # kept, at 0
            assert value("newsmon_feed_fetches_total", {"outcome": "ok"}) == 2
            assert value("newsmon_feed_fetch_duration_seconds_count") == 2  # fetches answered
            assert value("newsmon_feed_fetched_bytes_total") == 2 * len(EMPTY_RSS)


async def test_a_run_counts_items_matches_stories_alerts_and_their_latencies(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = load_config(write_config(tmp_path, serve_samples(feed_server)), receivers=schemas())
    app = App(settings, registry=CollectorRegistry())
    await asyncio.wait_for(app.run(asyncio.Event(), once=True), 60)
    value = app.metrics.registry.get_sample_value
    alerts = len(EXPECTED)
    desk = {"receiver": "desk-file"}
    assert value("newsmon_alerts_sent_total", desk) == alerts
    assert value("newsmon_alert_deliveries_total", {**desk, "outcome": "sent"}) == alerts
    assert value("newsmon_alert_delivery_latency_seconds_count", desk) == alerts
    assert value("newsmon_alert_end_to_end_latency_seconds_count", desk) == alerts
    assert value("newsmon_stories_created_total") == alerts
    published = value("newsmon_items_published_total")
    assert published and published >= alerts
    assert value("newsmon_item_age_seconds_count") == published  # every sample item is dated
    # the sample items are from 2019: years old when seen, beyond the largest finite bucket
    assert value("newsmon_item_age_seconds_bucket", {"le": "604800.0"}) == 0
    assert value("newsmon_matches_total", {"rule": "s400"}) == 2
    assert value("newsmon_rules_loaded") == len(app.engine.rules)


async def test_a_rule_reload_that_raises_anything_is_counted_and_watching_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once, any error but ConfigError out of a reload ended the reload task for good."""
    rules = tmp_path / "rules"
    rules.mkdir()
    good = (ROOT / "rules" / "defense.yaml").read_text(encoding="utf-8")
    (rules / "desk.yaml").write_text(good, encoding="utf-8")
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        "feeds:\n  - {url: 'http://127.0.0.1:9/feed.xml', name: f}\n"
        f"rules: ['{rules}/*.yaml']\n"
        f"state: {{path: {tmp_path}/state.db}}\n"
        "http: {enabled: false}\n"
        f"receivers:\n  - {{name: desk-file, kind: file, path: {tmp_path}/alerts.jsonl}}\n",
        encoding="utf-8",
    )
    app = App(load_config(config, receivers=schemas()), registry=CollectorRegistry())
    value = app.metrics.registry.get_sample_value
    engine, reload = app.engine, app.rules.watcher.reload
    broken = True

    def flaky_reload() -> Engine:  # a loader bug: what no rule file should be able to cause
        if broken:
            app.rules.watcher._stamp = app.rules.watcher.stamp()
            raise RecursionError("maximum recursion depth exceeded")
        return reload()

    app.rules.watcher.reload = flaky_reload  # type: ignore[method-assign]
    watcher = asyncio.create_task(app.rules.watch(interval=0.05))
    try:
        (rules / "desk.yaml").write_text(good + "\n# edited\n", encoding="utf-8")
        await until(lambda: value("newsmon_rule_reloads_total", {"result": "failed"}) == 1)
        assert app.engine is engine  # the old rules stay live
        app.request_reload()  # SIGHUP: the same error again, counted, not traced again
        await until(lambda: value("newsmon_rule_reloads_total", {"result": "failed"}) == 2)
        assert not watcher.done()
        broken = False
        app.request_reload()
        await until(lambda: value("newsmon_rule_reloads_total", {"result": "ok"}) == 1)
        assert app.engine is not engine
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    failed = [r for r in caplog.records if r.getMessage().startswith("rules_reload_failed")]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert "RecursionError" in failed[0].getMessage()


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
