"""Building blocks for delivery tests: alerts, and a dispatcher over a real store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry
from support import records

from monitor.alerts.deliver import Dispatcher
from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed
from monitor.alerts.sinks import Sink
from monitor.config import DeliveryConfig
from monitor.metrics import Metrics
from monitor.model import Alert
from monitor.store import Store

FAST = DeliveryConfig(horizon=3600, timeout=5, backoff=0.5, max_backoff=2)


def alert(receiver: str, title: str = "Russia to share S-400 technology with Turkey",
          *, n: int = 1, link: str | None = None, summary: str = "") -> Alert:  # fmt: skip
    fields = {"title": title, "summary": summary} | ({"link": link} if link else {})
    return records.alert(receiver, n, **fields)


@asynccontextmanager
async def dispatcher(
    tmp: Path, sinks: Mapping[str, Sink], config: DeliveryConfig = FAST,
    limits: Mapping[str, tuple[int, float]] | None = None,
) -> AsyncIterator[tuple[Dispatcher, Outbox, Metrics]]:  # fmt: skip
    metrics = Metrics(CollectorRegistry())
    with Store(tmp / "state.db") as store:
        outbox = Outbox(store)
        for sink in sinks.values():
            await sink.__aenter__()
        try:
            async with Dispatcher(sinks, outbox, config, metrics, limits or {}) as d:
                yield d, outbox, metrics
        finally:
            for sink in sinks.values():
                await sink.__aexit__(None, None, None)


def enqueue(d: Dispatcher, outbox: Outbox, alerts: Sequence[Alert]) -> None:
    outbox.enqueue(((Routed(a.receiver, "0"), a) for a in alerts), time.time())
    d.wake({a.receiver for a in alerts})


async def settle(outbox: Outbox, timeout: float = 30) -> None:
    """Wait until no alert is pending."""
    async with asyncio.timeout(timeout):
        while outbox.pending_count():
            await asyncio.sleep(0.05)


def outcome(metrics: Metrics, receiver: str, what: str) -> float:
    value = metrics.registry.get_sample_value(
        "newsmon_alert_deliveries_total", {"receiver": receiver, "outcome": what}
    )
    return value or 0.0
