"""A stage handles each message, then acks it: a record whose handling fails is
dead-lettered (counted; kept on Kafka: tests/bus/test_kafka.py), but while the
store or the bus fails the message waits; it is never acked unhandled."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from support import records

from monitor.bus import ITEMS
from monitor.bus import stage as stage_loop
from monitor.bus.memory import MemoryBus
from monitor.errors import DEAD_LETTER_REASONS, BusError, StoreError
from monitor.metrics import Metrics
from monitor.model import Item, Record


def item(n: int) -> Item:
    return records.item(n, id=f"i{n}", title=f"t{n}")


@pytest.mark.parametrize("failure", [StoreError("disk full"), BusError("broker away")])
async def test_a_failing_store_or_bus_stalls_the_stage_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    monkeypatch.setattr(stage_loop, "STALL_BACKOFF", 0.01)
    attempts: list[str] = []
    handled: list[str] = []

    async def handle(record: Record) -> None:
        assert isinstance(record, Item)
        attempts.append(record.id)
        if record.id == "i1" and attempts.count("i1") <= 3:
            raise failure
        handled.append(record.id)

    async with MemoryBus() as bus:
        stage = asyncio.create_task(stage_loop.pump(bus, ITEMS, "rules", handle))
        for n in range(3):
            await bus.publish(ITEMS, f"i{n}", item(n))
        await asyncio.wait_for(bus.drain(ITEMS), 10)
        stage.cancel()
        await asyncio.gather(stage, return_exceptions=True)
    assert handled == ["i0", "i1", "i2"]  # in order, i1 after its store came back
    assert attempts.count("i1") == 4


async def test_a_record_whose_handling_fails_is_dead_lettered_and_the_rest_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_stages({ITEMS: "rules"})
    handled: list[str] = []

    async def handle(record: Record) -> None:
        assert isinstance(record, Item)
        if record.id in ("i1", "i3"):
            raise ValueError("a bug, or a record no retry can fix")
        handled.append(record.id)

    async with MemoryBus(metrics=metrics) as bus:
        stage = asyncio.create_task(stage_loop.pump(bus, ITEMS, "rules", handle))
        for n in range(5):
            await bus.publish(ITEMS, f"i{n}", item(n))
        await asyncio.wait_for(bus.drain(ITEMS), 10)
        assert bus.depth(ITEMS) == 0
        stage.cancel()
        await asyncio.gather(stage, return_exceptions=True)
    assert handled == ["i0", "i2", "i4"]
    value = metrics.registry.get_sample_value
    counts = {r: value("newsmon_bus_dead_letters_total", {"topic": ITEMS, "reason": r})
              for r in DEAD_LETTER_REASONS}  # fmt: skip
    assert counts == {"undecodable": 0, "unknown_schema": 0, "handler_error": 2}
    errors = [r for r in caplog.records if r.getMessage().startswith("stage_error")]
    assert [r.exc_info is not None for r in errors] == [True, False]  # one traceback
    letters = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dead_letter")]
    assert len(letters) == 2 and all("reason=handler_error" in m for m in letters)


def test_every_dead_letter_reason_is_pre_initialised() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.init_stages({ITEMS: "rules", "matches": "alerts"})
    value = metrics.registry.get_sample_value
    for topic in (ITEMS, "matches"):
        for reason in ("undecodable", "unknown_schema", "handler_error"):
            assert value("newsmon_bus_dead_letters_total", {"topic": topic, "reason": reason}) == 0
        assert value("newsmon_bus_publish_retries_total", {"topic": topic}) == 0
