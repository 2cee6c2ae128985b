"""Burst: a catch-up of 1,000 feeds x 50 new items through the daemon's stages.

Every feed of a local server (``bench/localfeeds.py``, its own process) brings 50
items never seen; one ``Poller.run_once`` polls them all through the real path
(Fetcher, ParsePool, Store, MemoryBus). Three figures, each from the first poll to
the last item handled:

* the sources alone: a consumer only acks the items off the bus (items/s, and the
  main process's CPU per item);
* end to end (acceptance 5): the items are stories of their own in pseudo-English
  (:class:`~bench.localfeeds.Plan` ``varied``: 30 % are copies of 2,000 wire stories
  carried by several outlets), 2 % of the stories naming the S-400; every item goes
  through the rules stage (the repository's rules) and each match through the stories
  stage (dedup, routes, the outbox on the same SQLite store, one receiver) as the
  daemon runs them. Target: >= 5,000 items/s;
* every story matching: alerts entering the outbox per second, batched (as the
  daemon runs) beside the same burst with the stories stage handling one match per
  transaction (the baseline: a transaction per story and per outbox row). Target:
  >= 2,000 alerts/s.

The process runs with the daemon's collector thresholds (:func:`monitor.app.tune_gc`).
``--long`` adds the worst case for dedup: every item one template, numbers apart
(``Feed 3 story 7: S-400 deliveries and F-35 exit``), so that every item resembles
every other and is compared with the fullest panels (batched only: the baseline
takes many minutes there).

Reusable for the end-to-end burst: :func:`burst` takes ``consume``, a coroutine
that runs the stages after the sources on the bus (rules, stories, outbox) and
returns when it has taken ``expected`` items (the default only acks them).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bench.localfeeds import LocalFeeds, Plan
from monitor.alerting import BATCH, StoriesStage, run_stage
from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Router
from monitor.app import tune_gc
from monitor.bus import ITEMS, MATCHES, Bus, pump
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig
from monitor.dedup.fingerprint import story_id
from monitor.dedup.stories import StoryBook
from monitor.metrics import Metrics
from monitor.model import Item, Match, Record
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules
from monitor.sources.fetch import Fetcher
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import Store

TARGET = 5_000.0  # items/s
ALERTS_TARGET = 2_000.0  # alerts/s into the outbox, every item matching
RULES = Path(__file__).resolve().parent.parent / "rules" / "defense.yaml"
Consume = Callable[[Bus, int], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Burst:
    items: int
    seconds: float
    cpu: float  # main process

    @property
    def rate(self) -> float:
        return self.items / self.seconds


async def ack(bus: Bus, expected: int) -> None:
    """Take ``expected`` items off the bus, acking each."""
    taken = 0
    async for message in bus.consume(ITEMS, "bench"):
        await message.ack()
        taken += 1
        if taken >= expected:
            return


async def burst(feeds: int = 1_000, items: int = 50, consume: Consume = ack,
                store: Store | None = None, plan: Plan | None = None) -> Burst:  # fmt: skip
    """Poll ``feeds`` feeds of ``items`` new items each once (as ``plan`` says, by default
    the template); ``consume`` takes them."""
    plan = replace(plan or Plan(items=items, burst=True), ready=feeds)
    with LocalFeeds(plan) as server, tempfile.TemporaryDirectory() as tmp:
        configs = [FeedConfig(server.url(n), f"f{n}") for n in range(feeds)]
        fetch = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",), per_host=100)
        with nullcontext(store) if store else Store(Path(tmp) / "burst.db") as store:
            async with MemoryBus(maxsize=10_000) as bus, Fetcher(fetch) as fetcher, \
                    ParsePool(workers=2) as pool:  # fmt: skip
                await pool.run(_warm())  # workers started before the clock does
                await pool.run(_warm())
                metrics = Metrics(CollectorRegistry())
                poller = Poller(configs, fetcher=fetcher, parser=pool, store=store, bus=bus,
                                metrics=metrics, schedule=ScheduleConfig())  # fmt: skip
                start, cpu = time.monotonic(), time.process_time()
                taker = asyncio.create_task(consume(bus, feeds * items))
                await poller.run_once()
                await taker
                return Burst(feeds * items, time.monotonic() - start, time.process_time() - cpu)


class Alerting:
    """The stages after the sources, as the daemon runs them on the memory bus: rules
    (every item of the burst names the S-400), then stories into the outbox."""

    def __init__(self, store: Store, batch: int) -> None:
        tune_gc()  # the daemon's collector thresholds, as `newsmon run` sets them
        self.store, self.batch = store, batch
        self.engine = Engine(load_rules([str(RULES)]))
        metrics = Metrics(CollectorRegistry())
        outbox = Outbox(store)
        self.stage = StoriesStage(StoryBook(store), Router(None, ["desk"]), outbox, metrics,
                                  lambda _: None)  # fmt: skip
        outbox.story = self.stage.story
        self.items = self.matches = 0
        self._all_in = asyncio.Event()
        self._expected = 0

    async def __call__(self, bus: Bus, expected: int) -> None:
        self._bus, self._expected = bus, expected
        tasks = [asyncio.create_task(pump(bus, ITEMS, "rules", self._rules)),
                 asyncio.create_task(self._stories(bus))]  # fmt: skip
        try:
            await self._all_in.wait()
            await bus.drain(MATCHES)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _rules(self, item: Record) -> None:
        assert isinstance(item, Item)
        hits = self.engine.match(item)
        if hits:
            self.matches += 1
            await self._bus.publish(MATCHES, story_id(item), Match(item, hits))
        self.items += 1
        if self.items >= self._expected:
            self._all_in.set()

    async def _stories(self, bus: Bus) -> None:
        await run_stage(bus, self.stage, "alerts", self.batch)


def _warm() -> partial[Any]:
    return partial(int, "0")


def run(long: bool = False) -> bool:
    tune_gc()
    result = asyncio.run(burst())
    print(
        f"burst: 1,000 feeds x 50 new items through the sources into the memory bus:"
        f" {result.rate:,.0f} items/s ({result.seconds:.1f} s; main process"
        f" {result.cpu / result.items * 1e6:,.0f} µs CPU per item)"
    )
    ok = end_to_end()
    ok = alerts(VARIED) and ok
    if long:
        alerts(Plan(items=50, burst=True), batches=(BATCH,), what="one template (worst case)")
    return ok


def end_to_end(feeds: int = 1_000, items: int = 50) -> bool:
    """The burst, 2 % of its stories matching, through every stage to the outbox."""
    plan = Plan(items=items, burst=True, varied=True, matching=0.02)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "burst.db") as store:
        stages = Alerting(store, BATCH)
        result = asyncio.run(burst(feeds, items, stages, store, plan))
        added = sum(n for state, n in store.outbox_counts().items() if state != "failing")
    ok = result.rate >= TARGET
    print(
        f"burst: end to end, {stages.matches:,} of {result.items:,} items matching"
        f" ({stages.matches / result.items:.1%}): {result.rate:,.0f} items/s through the"
        f" rules and stories stages ({added:,} outbox rows; {result.seconds:.1f} s; main process"
        f" {result.cpu / result.items * 1e6:,.0f} µs CPU per item; target >= {TARGET:,.0f}"
        f" items/s: {'met' if ok else 'MISSED'})"
    )
    return ok


VARIED = Plan(items=50, burst=True, varied=True, matching=1.0)


def alerts(plan: Plan, feeds: int = 1_000, batches: tuple[int, ...] = (1, BATCH),
           what: str = "stories of their own and wire copies") -> bool:  # fmt: skip
    """The burst with every item matching, to the outbox: batched beside one per match."""
    rates = {}
    for batch in batches:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "burst.db") as store:
            stages = Alerting(store, batch)
            result = asyncio.run(burst(feeds, plan.items, stages, store, plan))
            counts = store.outbox_counts()
            added = sum(n for state, n in counts.items() if state != "failing")
            alerts = len([r for r in store.outbox("pending") if r.kind == "alert"])
            rates[batch] = added / result.seconds
            how = "one match per transaction (baseline)" if batch == 1 else "batched"
            print(
                f"burst: every item matching ({what}), stories stage {how}:"
                f" {rates[batch]:,.0f} alerts/s into the outbox ({added:,} rows: {alerts:,}"
                f" first alerts, {added - alerts:,} story updates; {stages.matches:,} matches,"
                f" {result.items / result.seconds:,.0f} items/s end to end,"
                f" {result.seconds:.1f} s; main process"
                f" {result.cpu / result.items * 1e6:,.0f} µs CPU per item,"
                f" {added / result.cpu:,.0f} alerts per CPU-second)"
            )
    ok = rates[BATCH] >= ALERTS_TARGET
    against = f"{rates[BATCH] / rates[1]:.1f}x the baseline; " if 1 in rates else ""
    print(f"burst: alerts into the outbox ({what}) {against}target"
          f" >= {ALERTS_TARGET:,.0f} alerts/s: {'met' if ok else 'MISSED'}")  # fmt: skip
    return ok


if __name__ == "__main__":
    sys.exit(0 if run(long="--long" in sys.argv) else 1)
