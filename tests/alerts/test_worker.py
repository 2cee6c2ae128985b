"""The delivery worker keeps going whatever a sink throws, and never retries a
``Retry-After: 0`` at once."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import FAST, alert, dispatcher, enqueue, outcome, settle
from prometheus_client import CollectorRegistry
from standins import HookServer

from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed
from monitor.alerts.sinks.slack import SlackSink
from monitor.alerts.worker import Worker
from monitor.errors import DeliveryError
from monitor.metrics import Metrics
from monitor.model import Alert
from monitor.store import Store


class Scripted:
    """A sink that raises the scripted errors, one per call, then takes alerts."""

    edits = False
    max_batch = None

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.got: list[Alert] = []

    async def __aenter__(self) -> Scripted:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.got.extend(alerts)


def failed(metrics: Metrics, receiver: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "newsmon_deliveries_failed_total", {"receiver": receiver, "reason": reason}
    )
    return value or 0.0


async def test_a_sink_bug_is_counted_retried_and_the_worker_goes_on(tmp_path: Path) -> None:
    sink = Scripted(FileNotFoundError(2, "No such file or directory", "/etc/ca.pem"))
    async with dispatcher(tmp_path, {"r": sink}) as (d, outbox, metrics):
        enqueue(d, outbox, [alert("r", n=1)])
        await settle(outbox)
        enqueue(d, outbox, [alert("r", n=2)])  # the same worker takes the next one
        await settle(outbox)
        assert not any(task.done() for task in d._tasks)
        assert [e.state for e in outbox.entries()] == ["sent", "sent"]
    assert [a.story_id for a in sink.got] == ["story1", "story2"]
    assert failed(metrics, "r", "other") == 1
    assert outcome(metrics, "r", "retried") == 1 and outcome(metrics, "r", "sent") == 2


async def test_a_broken_receiver_stops_neither_itself_nor_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Scripted(*(ValueError("a bug") for _ in range(4)))
    healthy = Scripted()
    caplog.set_level(logging.WARNING, logger="monitor.alerts.deliver")
    async with dispatcher(tmp_path, {"broken": broken, "ok": healthy}) as (d, outbox, metrics):
        enqueue(d, outbox, [alert("broken"), alert("ok")])
        async with asyncio.timeout(30):
            while failed(metrics, "broken", "other") < 3:
                await asyncio.sleep(0.05)
        pending = outbox.entries("pending")
        assert [(e.receiver, e.last_error) for e in pending] == [("broken", "other: ValueError")]
        assert len(healthy.got) == 1
        await settle(outbox)  # the fourth error, then the alert goes through
    assert len(broken.got) == 1 and failed(metrics, "broken", "other") == 4
    logged = [r for r in caplog.records if r.getMessage().startswith("delivery_error")]
    assert len(logged) == 1  # once per distinct error, with its traceback
    assert logged[0].exc_info is not None and "receiver=broken" in logged[0].getMessage()


async def test_a_broken_payload_is_retried_not_fatal(tmp_path: Path) -> None:
    """A bug outside the sink (here: the outbox cannot read a row) is handled alike."""
    sink = Scripted()
    async with dispatcher(tmp_path, {"r": sink}) as (d, outbox, metrics):
        calls = 0
        current = outbox.current

        def flaky(row: object) -> Alert:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise KeyError("title")
            return current(row)  # type: ignore[arg-type]

        outbox.current = flaky  # type: ignore[method-assign]
        enqueue(d, outbox, [alert("r")])
        await settle(outbox)
    assert len(sink.got) == 1 and failed(metrics, "r", "other") == 1


def test_retry_after_zero_waits_at_least_the_backoff(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        outbox = Outbox(store)
        outbox.enqueue([(Routed("hook", "0"), alert("hook"))], time.time())
        worker = Worker("hook", Scripted(), outbox, FAST, Metrics(CollectorRegistry()), None)
        for retry_after in (0.0, 0.1, 3.0):
            (row,) = store.outbox("pending")
            worker.failed([row], DeliveryError("http_429", retryable=True, retry_after=retry_after))
            (row,) = store.outbox("pending")
            wait = max(retry_after, FAST.backoff)
            assert row.due == pytest.approx(row.updated + wait, abs=1e-3)
            assert worker.blocked_until == pytest.approx(row.updated + wait, abs=1e-3)


async def test_a_429_with_retry_after_0_is_not_retried_at_once(
    tmp_path: Path, hook: HookServer
) -> None:
    hook.script("/slack", (429, {"Retry-After": "0"}), (503, {"Retry-After": "0"}), 200)
    async with dispatcher(tmp_path, {"slack": SlackSink(hook.url("/slack"))}) as (d, outbox, _):
        enqueue(d, outbox, [alert("slack")])
        await settle(outbox)
    got = hook.received("/slack")
    assert [r.status for r in got] == [429, 503, 200]
    assert all(b.at - a.at >= FAST.backoff for a, b in itertools.pairwise(got))
