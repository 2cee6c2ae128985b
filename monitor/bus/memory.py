"""The in-process bus: one bounded asyncio queue per topic.

The embedded default. Bounded queues make a slow stage push back on the one
before it instead of growing memory. Every consumer of a topic shares its
queue (work is split, as in one Kafka consumer group). Records pass as
objects: nothing is serialised inside one process. A message the stage could
not handle (``dead_letter``) is logged and counted, then dropped: there is no
dead-letter topic to keep it in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from monitor.bus.base import Turns
from monitor.model import Record

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)


class _Topic:
    __slots__ = ("metrics", "name", "pending", "queue")

    def __init__(self, name: str, maxsize: int, metrics: Metrics | None) -> None:
        self.name = name
        self.metrics = metrics
        self.queue: asyncio.Queue[tuple[str, Record]] = asyncio.Queue(maxsize)
        self.pending = 0  # published, not yet acked


class MemoryMessage:
    __slots__ = ("_acked", "_topic", "key", "value")

    def __init__(self, key: str, value: Record, topic: _Topic) -> None:
        self.key = key
        self.value = value
        self._topic = topic
        self._acked = False

    async def ack(self) -> None:
        if not self._acked:
            self._acked = True
            self._topic.pending -= 1
            self._topic.queue.task_done()

    async def dead_letter(self, reason: str, detail: str = "") -> None:
        """Count and log the message as given up on (``reason``), then ack it."""
        if self._acked:
            return
        topic = self._topic
        log.warning(
            "dead_letter topic=%s key=%s reason=%s detail=%s (memory bus: dropped)",
            topic.name, self.key[:200], reason, detail[:200],
        )  # fmt: skip
        if topic.metrics is not None:
            topic.metrics.bus_dead_letters.labels(topic.name, reason).inc()
        await self.ack()


class MemoryBus:
    def __init__(self, maxsize: int = 1000, metrics: Metrics | None = None) -> None:
        self._maxsize = maxsize
        self._metrics = metrics
        self._topics: dict[str, _Topic] = {}
        self._closed = False

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(name, self._maxsize, self._metrics)
        return topic

    async def __aenter__(self) -> MemoryBus:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closed = True

    async def publish(self, topic: str, key: str, value: Record) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")
        t = self._topic(topic)
        t.pending += 1
        await t.queue.put((key, value))

    async def publish_many(self, topic: str, records: Sequence[tuple[str, Record]]) -> None:
        for key, value in records:
            await self.publish(topic, key, value)

    async def consume(self, topic: str, group: str) -> AsyncIterator[MemoryMessage]:
        """Runs until the consuming task is cancelled (its owner drains first)."""
        t = self._topic(topic)
        turns = Turns()  # Queue.get does not wait while the queue holds a message
        while True:
            key, value = await t.queue.get()
            yield MemoryMessage(key, value, t)
            await turns.take()

    async def drain(self, topic: str) -> None:
        await self._topic(topic).queue.join()

    def depth(self, topic: str) -> int:
        t = self._topics.get(topic)
        return 0 if t is None else t.pending

    async def ready(self) -> bool:
        return not self._closed
