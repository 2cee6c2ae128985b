"""Burst: a catch-up of 1,000 feeds x 50 new items through the sources into the bus.

Every feed of a local server (``bench/localfeeds.py``, its own process) brings 50
items never seen; one ``Poller.run_once`` polls them all through the real path
(Fetcher, ParsePool, Store, MemoryBus) while a consumer takes the items off the
bus. Printed: items published per second (from the first poll to the last item
taken) and the main process's CPU per item. Target (the sources' half of
acceptance 5): the sources keep ahead of 5,000 items/s.

Reusable for the end-to-end burst: :func:`burst` takes ``consume``, a coroutine
that runs the stages after the sources on the bus (rules, stories, outbox) and
returns when it has taken ``expected`` items (the default only acks them).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.localfeeds import LocalFeeds, Plan
from monitor.bus import ITEMS, Bus
from monitor.bus.memory import MemoryBus
from monitor.config import FeedConfig, FetchConfig, ScheduleConfig
from monitor.metrics import Metrics
from monitor.sources.fetch import Fetcher
from monitor.sources.poller import Poller
from monitor.sources.pool import ParsePool
from monitor.store import Store

TARGET = 5_000.0  # items/s
Consume = Callable[[Bus, int], Awaitable[None]]


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
                store_path: Path | None = None) -> Burst:  # fmt: skip
    """Poll ``feeds`` feeds of ``items`` new items each once; ``consume`` takes them."""
    with LocalFeeds(Plan(items=items, burst=True)) as server, tempfile.TemporaryDirectory() as tmp:
        configs = [FeedConfig(server.url(n), f"f{n}") for n in range(feeds)]
        fetch = FetchConfig(allow_networks=(f"127.0.0.1:{server.port}",), per_host=100)
        with Store(store_path or Path(tmp) / "burst.db") as store:
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


def _warm() -> object:
    from functools import partial

    return partial(int, "0")


def run() -> bool:
    result = asyncio.run(burst())
    ok = result.rate >= TARGET
    print(
        f"burst: 1,000 feeds x 50 new items through the sources into the memory bus:"
        f" {result.rate:,.0f} items/s ({result.seconds:.1f} s; main process"
        f" {result.cpu / result.items * 1e6:,.0f} µs CPU per item; target >= {TARGET:,.0f}"
        f" items/s: {'met' if ok else 'MISSED'})"
    )
    return ok


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
