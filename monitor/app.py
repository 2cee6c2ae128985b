"""The daemon: wires the stages together; the one place that does.

    sources.Poller --items--> rules.Engine --matches--> dedup + alerts --> sinks

Components are async context managers, started in dependency order and
stopped in reverse. ``run`` polls until the stop event is set, then lets the
work in flight drain through to the sinks (bounded by ``drain_timeout``, counted
from the stop: on Kafka the polls in flight get a third of it, then are cancelled,
so a broker gone does not hold the stop up). ``run --once`` polls every feed once
and drains. On Kafka, ``run`` shares the feeds with the other daemons of its group
(:mod:`monitor.cluster.feeds`); ``--once`` polls them all, as a daemon alone does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.alerting import StoriesStage, run_stage
from monitor.alerts.deliver import Dispatcher
from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Router
from monitor.alerts.sinks import Sink, build
from monitor.bus import ITEMS, MATCHES, Bus, open_bus, pump
from monitor.bus.kafka import KafkaBus
from monitor.cluster.feeds import FeedsRole
from monitor.cluster.roles import Cluster
from monitor.cluster.stories import desk
from monitor.config import Settings, rate
from monitor.dedup.fingerprint import story_id
from monitor.dedup.stories import StoryBook
from monitor.errors import StoreError
from monitor.http import HttpServer
from monitor.metrics import Metrics
from monitor.model import Item, Match, Record
from monitor.rules.engine import Engine
from monitor.rules.reload import RuleReloader
from monitor.sources.fetch import Fetcher
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import StateLock, Store, retention_cutoff, watch_intact
from monitor.web import Desk, mounter

log = logging.getLogger(__name__)

STAGES = {ITEMS: "rules", MATCHES: "alerts"}  # topic -> the stage (consumer group) reading it
# The cyclic collector's thresholds for the daemon's process (``newsmon run``). Python's
# (700, 10, 10) make a young collection every 700 new objects and, as the heap grows
# (the stories window: its members' features and the index's postings), full
# collections that walk all of it. Young collections every 10,000 objects and older
# ones twice as rarely: in the all-matching burst (``python -m bench burst``), CPU per
# item 1,225 -> 1,117 µs at 1,000 feeds and 1,161 -> 1,039 µs at 300, no full collection
# during the burst where there had been 13. Garbage cycles are few here (reference
# counting frees the rest at once), so memory waits on them no longer.
GC_THRESHOLDS = (10_000, 20, 20)


def tune_gc() -> None:
    """Set the daemon's collector thresholds (:data:`GC_THRESHOLDS`); process-wide, so
    the process's owner calls it (the CLI, a benchmark), not :class:`App`."""
    gc.set_threshold(*GC_THRESHOLDS)


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        sinks: Mapping[str, Sink] | None = None,
        drain_timeout: float = 30.0,
    ) -> None:
        """Load everything that can fail on bad input (rules, sinks) up front,
        so a bad file stops startup before any feed is polled."""
        self.settings = settings
        self.metrics = Metrics(registry)
        self.rules = RuleReloader(settings.rules, self.metrics)
        base = Path(settings.path).parent
        self.sinks = dict(sinks) if sinks is not None else {
            r.name: build(r, base) for r in settings.receivers
        }  # fmt: skip
        self.metrics.init_receivers(self.sinks)  # every series exists before /metrics is up
        self.metrics.init_stages(STAGES)
        self.drain_timeout = drain_timeout
        self.http_port: int | None = None
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        s = self.settings
        async with AsyncExitStack() as stack:
            stack.enter_context(StateLock(s.state.path))  # one daemon per state file
            store = stack.enter_context(Store(s.state.path))
            cutoff = retention_cutoff(s.state.seen_retention_days)
            store.forget_seen_before(cutoff)
            store.outbox_forget_sent_before(cutoff.timestamp())
            bus = await stack.enter_async_context(open_bus(s.bus, self.metrics))
            fetcher = await stack.enter_async_context(Fetcher(s.fetch))
            parser = await stack.enter_async_context(
                ParsePool(
                    timeout=s.fetch.parse_timeout,
                    max_field_bytes=s.fetch.max_field_bytes,
                    max_items=s.fetch.max_items,
                )
            )
            for sink in self.sinks.values():
                await stack.enter_async_context(sink)
            cluster = (Cluster.build(s, self.metrics, store, self.sinks, self._limits(), bus)
                       if isinstance(bus, KafkaBus) else None)  # fmt: skip
            # --once polls every feed, as a daemon alone does
            feeds = self._feeds_role(bus) if cluster is not None and not once else None
            poller = Poller(
                s.feeds, fetcher=fetcher, parser=parser, store=store, bus=bus,
                metrics=self.metrics, schedule=s.schedule,
                item_retention=s.state.item_retention, max_items=s.state.max_items,
                shared=feeds is not None, on_state=feeds.state_changed if feeds else None,
                may_poll=feeds.may_poll if feeds else None,
            )  # fmt: skip
            if feeds is not None and cluster is not None:
                feeds.attach(poller)
                cluster.feeds = feeds
            stages = [asyncio.create_task(self._rules_stage(bus), name="rules")]
            book = StoryBook(store, s.stories.window, s.stories.threshold)
            if cluster is None:
                book.load(time.time())
                outbox: Outbox = Outbox(store)
                self._watch(bus, outbox)
                stack.callback(self.metrics.unwatch)
                dispatcher = await stack.enter_async_context(self._dispatcher(outbox))
                router = Router(s.route, list(self.sinks), s.time_intervals)
                stories = StoriesStage(book, router, outbox, self.metrics, dispatcher.wake)
                outbox.story = stories.story  # the one edge back: alerts render from the story
                stages.append(asyncio.create_task(self._stories_stage(bus, stories), name="alerts"))
            else:  # kafka: the stories and delivery roles, each partition one owner's
                outbox = cluster.delivery.outbox
                self._watch(bus, outbox)
                stack.callback(self.metrics.unwatch)
                dispatcher = await stack.enter_async_context(cluster.delivery.dispatcher)
                await stack.enter_async_context(cluster.delivery)
                await stack.enter_async_context(cluster.stories)
                cluster.view.start()  # after the stories role made its changelog
                stack.callback(cluster.view.stop)
            if s.http.enabled:
                desk = Desk(store, book, outbox, lambda: self.engine, s.feeds, tuple(self.sinks),
                            self.metrics.registry, wake=dispatcher.wake,
                            **(cluster.desk_actions(s, store) if cluster else {}))  # fmt: skip
                server = await stack.enter_async_context(self._http(store, bus, desk, cluster))
                self.http_port = server.port
                log.info("http_listening address=%s:%d", server.host, server.port)
            if not once:
                stages.append(asyncio.create_task(self.rules.watch(), name="rule-reload"))
                stages.append(asyncio.create_task(watch_intact(store), name="state-watch"))
            log.info(
                "started feeds=%d rules=%d receivers=%s bus=%s",
                len(s.feeds), len(self.engine.rules), ",".join(self.sinks), s.bus.kind,
            )  # fmt: skip
            self.ready.set()
            stopped = asyncio.create_task(_stopped_at(stop), name="stop-time")
            try:
                await self._poll(poller, feeds, stop, once)
                # one budget for the polls in flight and the drains, from the stop on
                kafka = stopped.done() and s.bus.kind == "kafka"  # memory: from the polls' end
                began = stopped.result() if kafka else time.monotonic()
                deadline = began + self.drain_timeout
                if cluster is not None:  # leaving the group too, the broker gone or not
                    cluster.stop_by(deadline)
                await self._drain(bus, max(0.0, deadline - time.monotonic()))
                if cluster is not None:
                    await cluster.drain(deadline)
                if left := await dispatcher.drain(max(0.0, deadline - time.monotonic())):
                    log.info("alerts_pending count=%d (sent on the next start)", left)
            finally:
                stopped.cancel()
                for task in stages:
                    task.cancel()
                await asyncio.gather(*stages, return_exceptions=True)
        log.info("stopped")

    def _feeds_role(self, bus: Bus) -> FeedsRole:
        assert isinstance(bus, KafkaBus)
        return FeedsRole(bus, self.settings.feeds, self.metrics)

    async def _poll(
        self, poller: Poller, feeds: FeedsRole | None, stop: asyncio.Event, once: bool
    ) -> None:
        """Poll until ``stop`` (``once``: every feed once). On Kafka the polls in flight at
        the stop get a third of the drain budget (a broker gone would hold them up), and
        the feeds role, entered for the run, writes their states and leaves the group."""
        if once:
            await poller.run_once(stop)
            return
        grace = self.drain_timeout / 3 if self.settings.bus.kind == "kafka" else None
        if feeds is None:
            await poller.run(stop, grace)
            return
        async with feeds:
            await poller.run(stop, grace)

    async def _drain(self, bus: Bus, timeout: float) -> None:
        """Let what was published flow through to the sinks, in stage order."""
        try:
            async with asyncio.timeout(timeout):
                await bus.drain(ITEMS)
                await bus.drain(MATCHES)
        except TimeoutError:
            log.warning("drain_timeout items=%d matches=%d", bus.depth(ITEMS), bus.depth(MATCHES))

    @property
    def engine(self) -> Engine:
        """The live rules (replaced by a hot reload between items)."""
        return self.rules.engine

    def request_reload(self) -> None:
        """Reload the rule files now (SIGHUP), changed or not."""
        self.rules.request()

    async def _rules_stage(self, bus: Bus) -> None:
        by_desk = self.settings.bus.kind == "kafka"  # kafka: one desk's matches, one owner

        async def handle(item: Record) -> None:
            assert isinstance(item, Item)
            hits = self.engine.match(item)
            for hit in hits:
                self.metrics.matches.labels(hit.rule).inc()
            if hits:
                match = Match(item, hits)
                await bus.publish(MATCHES, desk(match) if by_desk else story_id(item), match)

        await pump(bus, ITEMS, STAGES[ITEMS], handle)

    def _limits(self) -> dict[str, tuple[int, float]]:
        return {r.name: rate(r.options["rate_limit"])
                for r in self.settings.receivers if "rate_limit" in r.options}  # fmt: skip

    def _dispatcher(self, outbox: Outbox) -> Dispatcher:
        return Dispatcher(self.sinks, outbox, self.settings.delivery, self.metrics,
                          self._limits())  # fmt: skip

    async def _stories_stage(self, bus: Bus, stories: StoriesStage) -> None:
        """match -> story -> routes -> outbox (durable, a batch of matches per
        transaction) -> ack; the dispatcher delivers."""
        await run_stage(bus, stories, STAGES[MATCHES])

    def _watch(self, bus: Bus, outbox: Outbox) -> None:
        """Gauges read at scrape time: each topic's depth, the outbox's pending alerts,
        and on the memory bus each stage's lag (its queue; kafka consumers report theirs)."""
        m = self.metrics
        for topic, stage in STAGES.items():
            m.watch(m.bus_depth.labels(topic), partial(bus.depth, topic))
            if self.settings.bus.kind == "memory":
                m.watch(m.bus_consumer_lag.labels(topic, stage), partial(bus.depth, topic))
                m.bus_queue_capacity.labels(topic).set(self.settings.bus.queue_size)
        m.watch(m.alerts_pending, partial(_pending, outbox))

    def _http(self, store: Store, bus: Bus, desk: Desk, cluster: Cluster | None) -> HttpServer:
        async def store_ok() -> bool:
            return store.writable()

        async def config_ok() -> bool:
            return self.ready.is_set()

        checks = {"config": config_ok, "store": store_ok, "bus": bus.ready}
        explain = {}
        if cluster is not None:
            checks.update(cluster.checks())
            explain = cluster.explain()
        if isinstance(bus, KafkaBus):
            explain["bus"] = lambda: "; ".join(bus.topic_problems()) or None
        h = self.settings.http
        return HttpServer(h.host, h.port, self.metrics.registry, checks, mounter(desk, h),
                          explain)  # fmt: skip


async def _stopped_at(stop: asyncio.Event) -> float:
    await stop.wait()
    return time.monotonic()


def _pending(outbox: Outbox) -> float:
    try:
        return float(outbox.pending_count())
    except StoreError:
        return math.nan  # the scrape still answers; /readyz says why
