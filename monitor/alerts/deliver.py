"""Delivery: the one retry loop every sink goes through, over the store's outbox.

An alert is written to the outbox (``pending``) before any attempt and marked
``sent`` in the same transaction that logs it in the sent log, right after
the receiver accepts it. One worker per receiver (:mod:`~monitor.alerts.worker`)
sends what is due, oldest first (a group's alerts as one digest), through
:meth:`Sink.send`, which raises :class:`DeliveryError`. Then, in this one place:

* ``retry_after`` set (HTTP 429/503 ``Retry-After``): wait that long, never
  less, and never less than ``backoff`` (a ``Retry-After: 0`` or a date in
  the past would otherwise retry at once, again and again, to the horizon);
* retryable (5xx, timeouts, connection errors, SMTP 4xx): exponential backoff
  from ``backoff`` doubling to ``max_backoff``, with full jitter in its upper
  half, until ``horizon`` after the alert was queued; then dead letter;
* not retryable (other 4xx, SMTP 5xx, STARTTLS missing): dead letter at once;
* anything else a sink raises (a bug, a file gone): logged with its traceback
  once per distinct error, counted as a failure with reason ``other``, and
  retried like a retryable error. A fault in one receiver never stops its
  worker, nor any other receiver's delivery.

How a receiver's answer becomes a :class:`DeliveryError` (HTTP status, SMTP
codes) is ``sinks/base.py``: this module depends on the sinks, never the reverse.
A failure's ``reason`` is bounded where it is made (``errors.DELIVERY_REASONS``,
the ``reason`` label of the metrics); its ``detail`` goes to the log and the
outbox (``newsmon alerts --failed``). On start, pending alerts are sent. The one window where
a crash duplicates an alert: the receiver accepted it, and the process died
before the ``sent`` mark committed (one local SQLite transaction, well under
a millisecond after the response); the alert is sent again on restart. The
same holds if the store fails at that very moment (a full disk): the worker
waits for the store, and the alert, still pending, goes out once more. A
send that outlives ``timeout`` is recorded as failed and retried: for HTTP,
the receiver may still have accepted the request we stopped waiting for (a
copy per timed-out attempt); the email sink instead waits for the outcome of
a mail transaction it has begun (see ``sinks/email.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

from monitor.alerts.outbox import Outbox
from monitor.alerts.pace import RateLimit
from monitor.alerts.sinks import Sink
from monitor.alerts.worker import Worker
from monitor.config import DeliveryConfig
from monitor.metrics import Metrics


class Dispatcher:
    """The delivery loop: one :class:`Worker` task per receiver; an async context manager."""

    def __init__(self, sinks: Mapping[str, Sink], outbox: Outbox, config: DeliveryConfig,
                 metrics: Metrics, limits: Mapping[str, tuple[int, float]]) -> None:  # fmt: skip
        self.outbox = outbox
        self.workers = {
            name: Worker(name, sink, outbox, config, metrics,
                         RateLimit(*limits[name]) if name in limits else None)
            for name, sink in sinks.items()
        }  # fmt: skip
        metrics.init_receivers(self.workers)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Dispatcher:
        self._tasks = [
            asyncio.create_task(w.run(self._stop), name=f"deliver:{n}")
            for n, w in self.workers.items()
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Let sends in flight finish (bounded by their timeout), then stop."""
        self._stop.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(w.config.timeout for w in self.workers.values()) + 1
                                       if self.workers else 1):  # fmt: skip
                await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def wake(self, receivers: set[str]) -> None:
        for name in receivers:
            if (worker := self.workers.get(name)) is not None:
                worker.wake.set()

    async def drain(self, timeout: float) -> int:
        """Wait until nothing is due before the deadline; returns how many alerts
        are still pending then (they stay in the outbox for the next start)."""
        deadline = time.time() + timeout
        while (due := self.outbox.next_due()) is not None and due <= deadline:
            if time.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        return self.outbox.pending_count()
