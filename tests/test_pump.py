"""A stage handles each message, then acks it: a bad record is skipped, but while
the store or the bus fails the message waits; it is never acked unhandled."""

from __future__ import annotations

import asyncio

import pytest

from monitor import app
from monitor.bus import ITEMS
from monitor.bus.memory import MemoryBus
from monitor.errors import BusError, StoreError
from monitor.model import Item, Record


def item(n: int) -> Item:
    return Item(id=f"i{n}", feed_url="https://f.example/rss", feed="f", source="F", title=f"t{n}")


@pytest.mark.parametrize("failure", [StoreError("disk full"), BusError("broker away")])
async def test_a_failing_store_or_bus_stalls_the_stage_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    monkeypatch.setattr(app, "STALL_BACKOFF", 0.01)
    attempts: list[str] = []
    handled: list[str] = []

    async def handle(record: Record) -> None:
        assert isinstance(record, Item)
        attempts.append(record.id)
        if record.id == "i1" and attempts.count("i1") <= 3:
            raise failure
        handled.append(record.id)

    async with MemoryBus() as bus:
        stage = asyncio.create_task(app._pump(bus, ITEMS, "rules", handle))
        for n in range(3):
            await bus.publish(ITEMS, f"i{n}", item(n))
        await asyncio.wait_for(bus.drain(ITEMS), 10)
        stage.cancel()
        await asyncio.gather(stage, return_exceptions=True)
    assert handled == ["i0", "i1", "i2"]  # in order, i1 after its store came back
    assert attempts.count("i1") == 4


async def test_a_bad_record_is_skipped_and_the_rest_flow() -> None:
    handled: list[str] = []

    async def handle(record: Record) -> None:
        assert isinstance(record, Item)
        if record.id == "i1":
            raise ValueError("a bug, or a record no retry can fix")
        handled.append(record.id)

    async with MemoryBus() as bus:
        stage = asyncio.create_task(app._pump(bus, ITEMS, "rules", handle))
        for n in range(3):
            await bus.publish(ITEMS, f"i{n}", item(n))
        await asyncio.wait_for(bus.drain(ITEMS), 10)
        stage.cancel()
        await asyncio.gather(stage, return_exceptions=True)
    assert handled == ["i0", "i2"]
