"""One run of the daemon's poll path for the polling benchmark (``bench/poll.py``).

``rate x interval`` feeds on a local server (``bench/localfeeds.py``), every feed
with the same fixed interval and no jitter, polled by the real path: Poller +
Fetcher + ParsePool (2 workers) + MemoryBus (a consumer acking) + Store (a SQLite
file). A poll's slip (how late it came) is the gap between two requests of a feed,
as the server saw them, less that interval.

Measured in steady state only: a fresh store makes every feed's first poll a full
fetch and parse (20,000 of them at 1,000 polls/s: a minute of work on a loaded
2-core machine), and the polls that fall due meanwhile queue behind them. So the
window opens once every feed has been polled once *and* that backlog has drained
(at most ``1 %`` of the feeds waiting for a slot); how long that took is printed.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench import webui
from bench.localfeeds import LocalFeeds
from monitor.bus import ITEMS
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig
from monitor.metrics import Metrics
from monitor.sources.fetch import Fetcher
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import Store

STEADY_BACKLOG = 0.01  # of the feeds: at most this many waiting for a slot in steady state


@dataclass(frozen=True, slots=True)
class Run:
    rate: float  # polls/s asked for
    polls: int
    seconds: float
    cpu: float  # main process, seconds
    workers_cpu: float  # parse workers, seconds
    slips: list[float]
    warmup: float = 0.0  # seconds from the start until measured (steady state)
    changed_slips: list[float] = field(default_factory=list)  # those of the changed feeds
    backlog: tuple[int, int] = (0, 0)  # polls waiting for a slot at the window's start, end

    @property
    def per_poll(self) -> float:
        return self.cpu / max(self.polls, 1)

    def slip(self, q: float, of: list[float] | None = None) -> float:
        ordered = sorted(self.slips if of is None else of) or [0.0]
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def daemon(
    feeds: LocalFeeds, rate: float, interval: float, measure: float, ui: list[str] | None = None
) -> Run:
    """The daemon polling ``rate x interval`` feeds (the first polls spread over one
    interval) until steady (:func:`_steady`: at most 8 intervals more), then measured
    for ``measure`` seconds. With ``ui`` (a list that gets what the browser says): the
    web UI up too, a browser open on Stories."""
    count = int(rate * interval)
    configs = [FeedConfig(feeds.url(n), f"f{n}", interval=interval) for n in range(count)]
    schedule = ScheduleConfig(interval=interval, min_interval=interval, max_interval=interval,
                              jitter=0.0, max_backoff=interval)  # fmt: skip
    fetch = FetchConfig(allow_networks=(f"127.0.0.1:{feeds.port}",), per_host=200,
                        concurrency=200)  # fmt: skip
    metrics = Metrics(CollectorRegistry())
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        async with (
            MemoryBus(maxsize=10_000) as bus,
            Fetcher(fetch) as fetcher,
            ParsePool(workers=2) as pool,
            AsyncExitStack() as web,
        ):
            if ui is not None:
                said = await web.enter_async_context(webui.browsed(store))
            consumer = asyncio.create_task(_ack_all(bus))
            poller = Poller(configs, fetcher=fetcher, parser=pool, store=store, bus=bus,
                            metrics=metrics, schedule=schedule)  # fmt: skip
            stop = asyncio.Event()
            running = asyncio.create_task(poller.run(stop))
            await asyncio.sleep(interval + 2.0)
            warm = interval + 2.0 + await _steady(poller, count, limit=8 * interval)
            start, cpu, wcpu = time.monotonic(), time.process_time(), _workers_cpu(pool)
            polls, backlog = _polls(metrics), poller.backlog()
            await asyncio.sleep(measure)
            cpu = time.process_time() - cpu
            wcpu = _workers_cpu(pool) - wcpu
            polls = _polls(metrics) - polls
            end, backlog_end = time.monotonic(), poller.backlog()
            await web.aclose()  # the browser says how many refreshes it made
            if ui is not None:
                ui.extend(said)
            stop.set()
            await asyncio.wait_for(running, 120)
            consumer.cancel()
    slips = _slips(feeds.requests(), count, interval, start, end, feeds.plan.changed_every)
    return Run(rate, polls, end - start, cpu, wcpu, slips[0] + slips[1], warm, slips[1],
               (backlog, backlog_end))  # fmt: skip


async def _steady(poller: Poller, count: int, limit: float) -> float:
    """Wait (at most ``limit`` s) until every feed has been polled once (a first poll
    is a full fetch and parse, 304s come after) and the polls queued behind those
    have started (at most STEADY_BACKLOG of the feeds waiting for a slot); returns
    the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        polled = sum(s.last_poll is not None for s in poller._states.values())
        if polled >= count and poller.backlog() <= STEADY_BACKLOG * count:
            break
        await asyncio.sleep(1.0)
    return time.monotonic() - started


def _slips(requests: dict[int, list[float]], feeds: int, interval: float, start: float,
           end: float, changed_every: int) -> tuple[list[float], list[float]]:  # fmt: skip
    """How late each poll due in [start, end] came (the unchanged feeds', the changed
    feeds'): a poll made in the window is late by its gap to the feed's previous poll
    less the interval; a feed not polled again by ``end`` although due is late by at
    least the time it has been overdue."""
    out: tuple[list[float], list[float]] = ([], [])
    for n in range(feeds):
        slips = out[n % changed_every == 0]
        times = [t for t in requests.get(n, []) if t <= end]
        slips += [max(0.0, b - a - interval) for a, b in itertools.pairwise(times) if b >= start]
        due = (times[-1] if times else start - interval) + interval
        if due < end:
            slips.append(end - due)
    return out


async def _ack_all(bus: MemoryBus) -> None:
    async for message in bus.consume(ITEMS, "bench"):
        await message.ack()


def _polls(metrics: Metrics) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        if family.name == "newsmon_feed_fetches":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


def _workers_cpu(pool: ParsePool) -> float:
    return sum(w.cpu_seconds() or 0.0 for w in list(pool._live))
