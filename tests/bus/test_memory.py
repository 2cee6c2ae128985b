from __future__ import annotations

import asyncio
import time

from monitor.bus.memory import MemoryBus
from monitor.model import Item


def item(n: int) -> Item:
    return Item(id=str(n), feed_url="https://f.example/rss", feed="f", source="F", title=f"t{n}")


async def test_messages_flow_in_order_and_drain_waits_for_acks() -> None:
    async with MemoryBus(maxsize=10) as bus:
        for n in range(3):
            await bus.publish("items", str(n), item(n))
        assert bus.depth("items") == 3
        got: list[str] = []

        async def consume() -> None:
            async for message in bus.consume("items", "g"):
                got.append(message.key)
                await asyncio.sleep(0)
                await message.ack()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(bus.drain("items"), 5)
        assert got == ["0", "1", "2"]
        assert bus.depth("items") == 0
        task.cancel()


async def test_full_queue_applies_back_pressure() -> None:
    async with MemoryBus(maxsize=2) as bus:
        await bus.publish("items", "0", item(0))
        await bus.publish("items", "1", item(1))
        blocked = asyncio.create_task(bus.publish("items", "2", item(2)))
        await asyncio.sleep(0.05)
        assert not blocked.done()  # the producer waits instead of growing memory
        consumer = bus.consume("items", "g")
        message = await anext(consumer)
        await message.ack()
        await asyncio.wait_for(blocked, 5)
        await consumer.aclose()


async def test_drain_does_not_finish_before_ack() -> None:
    async with MemoryBus() as bus:
        await bus.publish("items", "0", item(0))
        consumer = bus.consume("items", "g")
        message = await anext(consumer)
        drain = asyncio.create_task(bus.drain("items"))
        await asyncio.sleep(0.05)
        assert not drain.done()
        await message.ack()
        await message.ack()  # a second ack is harmless
        await asyncio.wait_for(drain, 5)
        await consumer.aclose()
        assert await bus.ready()
    assert not await bus.ready()


async def test_a_busy_consumer_gives_the_event_loop_a_turn() -> None:
    """A consumer whose queue stays full never waits in ``get``: without a turn handed
    to the loop, a fetch's answer (here: a ready callback) would wait until the whole
    backlog was handled."""
    async with MemoryBus(maxsize=500) as bus:
        for n in range(400):
            await bus.publish("items", str(n), item(n))
        handled = [0]
        seen_at: list[int] = []

        async def consume() -> None:
            async for message in bus.consume("items", "g"):
                if handled[0] == 0:  # as an answer arriving while the backlog is handled
                    asyncio.get_running_loop().call_soon(lambda: seen_at.append(handled[0]))
                end = time.perf_counter() + 0.001  # 1 ms of work, never awaiting
                while time.perf_counter() < end:
                    pass
                handled[0] += 1
                await message.ack()
                if handled[0] == 400:
                    return

        await asyncio.wait_for(consume(), 30)
        assert seen_at and seen_at[0] < 400 // 4  # the callback ran early, not at the end
