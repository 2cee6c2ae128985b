"""The broker stops answering for 20 s (SIGSTOP), then resumes: nothing is lost."""

from __future__ import annotations

import asyncio
import time

import pytest
from kafka_broker import ApacheKafka, Tansu
from test_kafka import item, kafka_config

from monitor.bus.kafka import KafkaBus

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def wait_for(predicate: object, timeout: float) -> float:
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while not await predicate():  # type: ignore[operator]
            await asyncio.sleep(0.2)
    return time.monotonic() - start


async def test_paused_broker_loses_nothing_and_readiness_follows(
    own_kafka: ApacheKafka | Tansu, topic_prefix: str
) -> None:
    async with KafkaBus(kafka_config(own_kafka.bootstrap, topic_prefix)) as bus:
        got: set[str] = set()

        async def stage() -> None:
            async for message in bus.consume("items", "rules"):
                got.add(message.key)
                await message.ack()

        consumer = asyncio.create_task(stage())
        for n in range(20):
            await bus.publish("items", f"i{n}", item(n))
        await asyncio.wait_for(bus.drain("items"), 60)
        assert await bus.ready()

        own_kafka.pause()
        paused_at = time.monotonic()

        async def publish_more() -> None:
            await asyncio.gather(*(bus.publish("items", f"i{n}", item(n)) for n in range(20, 40)))

        publisher = asyncio.create_task(publish_more())
        await wait_for(lambda: _not(bus.ready()), 10)
        await asyncio.sleep(max(0.0, 20 - (time.monotonic() - paused_at)))
        assert not publisher.done()  # waiting, not failed
        own_kafka.resume()

        await asyncio.wait_for(publisher, 60)
        await wait_for(bus.ready, 30)
        await asyncio.wait_for(bus.drain("items"), 60)
        assert got == {f"i{n}" for n in range(40)}
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)


async def _not(check: object) -> bool:
    return not await check  # type: ignore[misc]
